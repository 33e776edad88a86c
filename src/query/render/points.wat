;; The points of one range-query series as Prometheus' JSON (`[t,"v"],[t,"v"],…`), for the query
;; threads' answer rendering (src/query/render/pointsWasm.ts). The caller writes n timestamps
;; (integral milliseconds, as f64) and n values (f64) into memory and calls $points; the module
;; writes, for each point, `[` + String(t/1000) + `,"` + formatFloat(v) + `"]`, points joined by
;; `,`, and returns the byte count, or -1 when a timestamp is not an integral number of
;; milliseconds below 2^43 s (the caller then renders that series in JavaScript).
;;
;; Values are printed as JavaScript's Number.prototype.toString prints them (the shortest digits
;; that read back as the same double; of those, the closest to the exact value, ties to even),
;; with Prometheus' exponent style (`1e-07`, `1.5e+21`) and `+Inf`, `-Inf`, `NaN`, `-0`. The
;; shortest digits come from the Schubfach method (R. Giulietti, "The Schubfach way to render
;; doubles", 2020): one 128-bit approximation of a power of ten per decimal exponent, the
;; round-to-odd products of it with the ends and middle of the double's rounding interval, then
;; a choice among at most three candidates. WebAssembly multiplies only 64×64→64 bits: the high
;; halves come from four 32×32→64 products ($umulh, and written out where it is hot).
;;
;; Written for speed under V8 (about 40 ns a point), which does not inline WebAssembly calls and
;; stalls a load that spans several recent smaller stores: the hot path ($value) keeps the digits
;; in registers, as little-endian words of ASCII, stores each byte once, chooses among candidates
;; with select rather than branches, and calls only $div1e8 and $d8 (twice).
;;
;; The power-of-ten table is not in this file: scripts/build-wasm.mjs computes it with BigInt and
;; puts it where the `;; @tables` line is before compiling (test/query/render/pointsWasm.test.ts
;; checks that the embedded module is this file so compiled). Touches only its own memory.
;;
;; Memory layout (addresses are bytes):
;;   64   PAIRS     "00" "01" … "99": two ASCII digits per entry, 200 bytes
;;   272  POW10     10^0 … 10^9 as u32, for counting the digits of a u32
;;   512  G         617 entries of 16 bytes: for e = -292 … 324, g(e) = floor(10^e · 2^(127 - P)) + 1
;;                  with P = floor(log2 10^e), so 2^127 < g(e) < 2^128; high u64 first, then low u64
;;   16384 (heap)   the caller's area: timestamps, values, timestamp cache and output, placed by the
;;                  caller and passed to $points
(module
  (memory (export "memory") 1)

  ;; heap is the first byte the caller may use.
  (global (export "heap") i32 (i32.const 16384))

  (data (i32.const 64)
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899")
  (data (i32.const 272)
    "\01\00\00\00" "\0a\00\00\00" "\64\00\00\00" "\e8\03\00\00" "\10\27\00\00"
    "\a0\86\01\00" "\40\42\0f\00" "\80\96\98\00" "\00\e1\f5\05" "\00\ca\9a\3b")

  ;; @tables

  ;; ---- unsigned integers to ASCII ------------------------------------------------------------

  ;; $d8 returns the eight digits of x (x < 10^8, zero-padded) as ASCII in a little-endian word:
  ;; the first digit in the lowest byte, as i64.store puts them in memory. The halves x / 10^4 and
  ;; x mod 10^4 go in two 32-bit lanes, each lane is split by 100 into two 16-bit lanes, and each
  ;; of those by 10 into two bytes, the divisions as multiplications: n / 100 = n·10486 >> 20 for
  ;; n < 10^4 and n / 10 = n·103 >> 10 for n < 100, no product spilling into the next lane.
  (func $d8 (param $x i32) (result i64)
    (local $a i32) (local $v i64) (local $q i64)
    (local.set $a (i32.div_u (local.get $x) (i32.const 10000)))
    (local.set $v
      (i64.or (i64.extend_i32_u (local.get $a))
        (i64.shl
          (i64.extend_i32_u (i32.sub (local.get $x) (i32.mul (local.get $a) (i32.const 10000))))
          (i64.const 32))))
    (local.set $q
      (i64.and (i64.shr_u (i64.mul (local.get $v) (i64.const 10486)) (i64.const 20))
        (i64.const 0x0000007f0000007f)))
    (local.set $v
      (i64.or (local.get $q)
        (i64.shl (i64.sub (local.get $v) (i64.mul (local.get $q) (i64.const 100))) (i64.const 16))))
    (local.set $q
      (i64.and (i64.shr_u (i64.mul (local.get $v) (i64.const 103)) (i64.const 10))
        (i64.const 0x000f000f000f000f)))
    (i64.or
      (i64.or (local.get $q)
        (i64.shl (i64.sub (local.get $v) (i64.mul (local.get $q) (i64.const 10))) (i64.const 8)))
      (i64.const 0x3030303030303030)))

  ;; $u32 writes x (no leading zeros; "0" for 0) at p and returns the end. The digit count is
  ;; floor(bits · log10 2), plus one when x reaches the next power of ten; the digits are then
  ;; written two at a time from the right.
  (func $u32 (param $x i32) (param $p i32) (result i32)
    (local $end i32) (local $q i32) (local $n i32)
    (local.set $n
      (i32.shr_u
        (i32.mul (i32.sub (i32.const 32) (i32.clz (i32.or (local.get $x) (i32.const 1))))
          (i32.const 1233))
        (i32.const 12)))
    (local.set $n
      (i32.add (local.get $n)
        (i32.ge_u (local.get $x) (i32.load offset=272 (i32.shl (local.get $n) (i32.const 2))))))
    (local.set $n (i32.add (local.get $n) (i32.eqz (local.get $x)))) ;; "0" is one digit
    (local.set $end (i32.add (local.get $p) (local.get $n)))
    (local.set $q (local.get $end))
    (block $done
      (loop $two
        (br_if $done (i32.lt_u (local.get $x) (i32.const 100)))
        (local.set $q (i32.sub (local.get $q) (i32.const 2)))
        (i32.store16 (local.get $q)
          (i32.load16_u offset=64 (i32.shl (i32.rem_u (local.get $x) (i32.const 100)) (i32.const 1))))
        (local.set $x (i32.div_u (local.get $x) (i32.const 100)))
        (br $two)))
    (if (i32.ge_u (local.get $x) (i32.const 10))
      (then
        (i32.store16 (i32.sub (local.get $q) (i32.const 2))
          (i32.load16_u offset=64 (i32.shl (local.get $x) (i32.const 1)))))
      (else (i32.store8 (i32.sub (local.get $q) (i32.const 1)) (i32.add (local.get $x) (i32.const 48)))))
    (local.get $end))

  ;; $umulh returns the high 64 bits of the 128-bit product a·b, from the four products of their
  ;; 32-bit halves: a·b = a1·b1·2^64 + (a1·b0 + a0·b1)·2^32 + a0·b0, where the middle column
  ;; (with the carry out of a0·b0) is summed in 64 bits without overflow (≤ 3·(2^32 - 1)).
  (func $umulh (param $a i64) (param $b i64) (result i64)
    (local $a0 i64) (local $a1 i64) (local $b0 i64) (local $b1 i64)
    (local $p01 i64) (local $p10 i64)
    (local.set $a0 (i64.and (local.get $a) (i64.const 0xffffffff)))
    (local.set $a1 (i64.shr_u (local.get $a) (i64.const 32)))
    (local.set $b0 (i64.and (local.get $b) (i64.const 0xffffffff)))
    (local.set $b1 (i64.shr_u (local.get $b) (i64.const 32)))
    (local.set $p01 (i64.mul (local.get $a0) (local.get $b1)))
    (local.set $p10 (i64.mul (local.get $a1) (local.get $b0)))
    (i64.add
      (i64.add
        (i64.mul (local.get $a1) (local.get $b1))
        (i64.add (i64.shr_u (local.get $p01) (i64.const 32)) (i64.shr_u (local.get $p10) (i64.const 32))))
      (i64.shr_u
        (i64.add
          (i64.shr_u (i64.mul (local.get $a0) (local.get $b0)) (i64.const 32))
          (i64.add
            (i64.and (local.get $p01) (i64.const 0xffffffff))
            (i64.and (local.get $p10) (i64.const 0xffffffff))))
        (i64.const 32))))

  ;; $div1e8 is x / 10^8 for x < 2^57: x · ceil(2^90 / 10^8) / 2^90, exact there because the
  ;; multiplier's excess (< 10^8 / 2^90 per unit of x) adds less than 1/10^8 to the quotient.
  ;; (WebAssembly's i64.div_u stays a real division.)
  (func $div1e8 (param $x i64) (result i64)
    (i64.shr_u (call $umulh (local.get $x) (i64.const 0xabcc77118461cefd)) (i64.const 26)))

  ;; $u64 writes x (x < 10^16, no leading zeros) at p and returns the end.
  (func $u64 (param $x i64) (param $p i32) (result i32)
    (local $hi i64)
    (if (i64.lt_u (local.get $x) (i64.const 100000000))
      (then (return (call $u32 (i32.wrap_i64 (local.get $x)) (local.get $p)))))
    (local.set $hi (call $div1e8 (local.get $x)))
    (local.set $p (call $u32 (i32.wrap_i64 (local.get $hi)) (local.get $p)))
    (i64.store (local.get $p)
      (call $d8 (i32.wrap_i64 (i64.sub (local.get $x) (i64.mul (local.get $hi) (i64.const 100000000))))))
    (i32.add (local.get $p) (i32.const 8)))

  ;; ---- values ----------------------------------------------------------------------------------

  ;; $value writes formatFloat(v) at p and returns the end; it may write up to 24 bytes past the
  ;; end (the caller's output area has room, and what follows overwrites them).
  ;;
  ;; A finite nonzero |v| is c·2^q with an integer c < 2^53. Any decimal within its rounding
  ;; interval [c - 1/2, c + 1/2]·2^q (the lower end is c - 1/4 when c = 2^52 and the binade below
  ;; is twice as dense; both ends belong to it when c is even, as readers round ties to even)
  ;; reads back as v. With k = floor(log10 2^q) (for the narrow case, floor(log10 (3/4)·2^q)), the
  ;; interval spans between 1 and 10 units of 10^k, so it holds an integer multiple of 10^k and at
  ;; most one of 10^(k+1). The answer is that multiple of 10^(k+1) when it is inside; otherwise
  ;; s = floor(v / 10^k) or s + 1, whichever is inside, or the closer one (ties to even) when both
  ;; are. Everything is compared in quarter units (4c, 4c ± 2 or 4c - 1), scaled by 10^-k and
  ;; rounded to odd: the lowest bit tells "exactly on an end" apart from "just past it".
  (func $value (param $v f64) (param $p i32) (result i32)
    (local $bits i64) (local $e i32) (local $f i64)
    (local $c i64) (local $q i32) (local $k i32) (local $narrow i64) (local $h i64) (local $g i32)
    (local $ghi i64) (local $glo i64) (local $cp i64) (local $cp0 i64) (local $cp1 i64)
    (local $a0 i64) (local $a1 i64) (local $m01 i64) (local $m10 i64) (local $y0 i64)
    (local $p0 i64) (local $p1 i64) (local $p2 i64) (local $sh i64) (local $d0 i64) (local $d1 i64)
    (local $t i64) (local $u1 i64) (local $c1 i32)
    (local $vb i64) (local $lower i64) (local $upper i64) (local $odd i64) (local $s i64)
    (local $hs i32) (local $ls i32) (local $sp i64) (local $in1 i32) (local $in2 i32)
    (local $shorter i32) (local $up i32) (local $hd i32) (local $ld i32) (local $top i32)
    (local $x0 i64) (local $x1 i64) (local $x2 i64) (local $z i64) (local $w i64)
    (local $lz i32) (local $tz i32) (local $len i32) (local $n i32) (local $x i32)
    (local.set $bits (i64.reinterpret_f64 (local.get $v)))
    (local.set $e (i32.wrap_i64 (i64.and (i64.shr_u (local.get $bits) (i64.const 52)) (i64.const 0x7ff))))
    (local.set $f (i64.and (local.get $bits) (i64.const 0xfffffffffffff)))
    (if (i32.eq (local.get $e) (i32.const 0x7ff))
      (then
        (if (i64.ne (local.get $f) (i64.const 0))
          (then
            (i32.store (local.get $p) (i32.const 0x004e614e)) ;; "NaN"
            (return (i32.add (local.get $p) (i32.const 3)))))
        (if (i64.lt_s (local.get $bits) (i64.const 0))
          (then (i32.store (local.get $p) (i32.const 0x666e492d)))  ;; "-Inf"
          (else (i32.store (local.get $p) (i32.const 0x666e492b)))) ;; "+Inf"
        (return (i32.add (local.get $p) (i32.const 4)))))
    (if (i64.lt_s (local.get $bits) (i64.const 0))
      (then
        (i32.store8 (local.get $p) (i32.const 45)) ;; '-'
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (local.set $v (f64.neg (local.get $v)))))
    ;; Zero, and integers below 2^53: their digits are the shortest ones (the interval is at most
    ;; one unit wide, and a shorter decimal would be a multiple of ten), in fixed notation.
    (if (i32.and
          (f64.lt (local.get $v) (f64.const 0x1p53))
          (f64.eq (local.get $v) (f64.trunc (local.get $v))))
      (then (return (call $u64 (i64.trunc_f64_u (local.get $v)) (local.get $p)))))

    ;; ---- the scaled interval
    (if (i32.eqz (local.get $e))
      (then ;; subnormal
        (local.set $c (local.get $f))
        (local.set $q (i32.const -1074)))
      (else
        (local.set $c (i64.or (local.get $f) (i64.const 0x10000000000000)))
        (local.set $q (i32.sub (local.get $e) (i32.const 1075)))))
    (if (i32.and (i64.eqz (local.get $f)) (i32.gt_u (local.get $e) (i32.const 1)))
      (then ;; lower end at c - 1/4: k = floor(q·log10 2 + log10 3/4)
        (local.set $narrow (i64.const 1))
        (local.set $k
          (i32.shr_s
            (i32.sub (i32.mul (local.get $q) (i32.const 1262611)) (i32.const 524031))
            (i32.const 22))))
      (else ;; k = floor(q·log10 2)
        (local.set $k (i32.shr_s (i32.mul (local.get $q) (i32.const 78913)) (i32.const 18)))))
    ;; h = q + floor(log2 10^-k) + 1 (1 ≤ h ≤ 4) makes g(-k)·(x << h) / 2^128 = x·2^q·10^-k.
    (local.set $h
      (i64.extend_i32_u
        (i32.add
          (i32.add (local.get $q)
            (i32.shr_s (i32.mul (i32.sub (i32.const 0) (local.get $k)) (i32.const 1741647)) (i32.const 19)))
          (i32.const 1))))
    (local.set $g (i32.shl (i32.sub (i32.const 292) (local.get $k)) (i32.const 4))) ;; entry of e = -k
    (local.set $ghi (i64.load offset=512 (local.get $g)))
    (local.set $glo (i64.load offset=520 (local.get $g)))

    ;; The three ends share one product, exact in 192 bits (p2, p1, p0): P = g·(4c << h) for the
    ;; middle; the upper end's is P + g·(2 << h), the lower end's P - g·(2 << h), or P - g·(1 << h)
    ;; when narrow. Each one's rounded-to-odd quotient by 2^128 is its top word, with the lowest
    ;; bit set when the word below is over 1 (the lowest word is left out). g is at most 1 above
    ;; 10^-k·2^(127 - floor(log2 10^-k)), so an exact quotient shows a fraction word of 0 or 1 (the
    ;; excess, < 2^59 / 2^64 of a unit, and the left-out word add less than one), and the paper
    ;; proves that an inexact one shows at least 2.
    ;; P's two high words: cp·ghi + umulh(cp, glo), with cp = 4c << h < 2^59 split in 32-bit halves.
    (local.set $cp (i64.shl (i64.shl (local.get $c) (i64.const 2)) (local.get $h)))
    (local.set $cp0 (i64.and (local.get $cp) (i64.const 0xffffffff)))
    (local.set $cp1 (i64.shr_u (local.get $cp) (i64.const 32)))
    ;;   umulh(glo, cp), as in $umulh
    (local.set $a0 (i64.and (local.get $glo) (i64.const 0xffffffff)))
    (local.set $a1 (i64.shr_u (local.get $glo) (i64.const 32)))
    (local.set $m01 (i64.mul (local.get $a0) (local.get $cp1)))
    (local.set $m10 (i64.mul (local.get $a1) (local.get $cp0)))
    (local.set $t
      (i64.add
        (i64.add
          (i64.mul (local.get $a1) (local.get $cp1))
          (i64.add (i64.shr_u (local.get $m01) (i64.const 32)) (i64.shr_u (local.get $m10) (i64.const 32))))
        (i64.shr_u
          (i64.add
            (i64.shr_u (i64.mul (local.get $a0) (local.get $cp0)) (i64.const 32))
            (i64.add
              (i64.and (local.get $m01) (i64.const 0xffffffff))
              (i64.and (local.get $m10) (i64.const 0xffffffff))))
          (i64.const 32))))
    (local.set $p0 (i64.mul (local.get $glo) (local.get $cp)))
    (local.set $y0 (i64.mul (local.get $ghi) (local.get $cp)))
    (local.set $p1 (i64.add (local.get $y0) (local.get $t)))
    ;;   umulh(ghi, cp), plus the carry out of p1
    (local.set $a0 (i64.and (local.get $ghi) (i64.const 0xffffffff)))
    (local.set $a1 (i64.shr_u (local.get $ghi) (i64.const 32)))
    (local.set $m01 (i64.mul (local.get $a0) (local.get $cp1)))
    (local.set $m10 (i64.mul (local.get $a1) (local.get $cp0)))
    (local.set $p2
      (i64.add
        (i64.add
          (i64.add
            (i64.mul (local.get $a1) (local.get $cp1))
            (i64.add (i64.shr_u (local.get $m01) (i64.const 32)) (i64.shr_u (local.get $m10) (i64.const 32))))
          (i64.shr_u
            (i64.add
              (i64.shr_u (i64.mul (local.get $a0) (local.get $cp0)) (i64.const 32))
              (i64.add
                (i64.and (local.get $m01) (i64.const 0xffffffff))
                (i64.and (local.get $m10) (i64.const 0xffffffff))))
            (i64.const 32)))
        (i64.extend_i32_u (i64.lt_u (local.get $p1) (local.get $y0)))))
    (local.set $vb
      (i64.or (local.get $p2) (i64.extend_i32_u (i64.gt_u (local.get $p1) (i64.const 1)))))
    ;; upper: P + (g << sh), sh = h + 1 (2 … 5)
    (local.set $sh (i64.add (local.get $h) (i64.const 1)))
    (local.set $d0 (i64.shl (local.get $glo) (local.get $sh)))
    (local.set $d1
      (i64.or (i64.shl (local.get $ghi) (local.get $sh))
        (i64.shr_u (local.get $glo) (i64.sub (i64.const 64) (local.get $sh)))))
    (local.set $t (i64.add (local.get $p1) (local.get $d1)))
    (local.set $c1 (i64.lt_u (local.get $t) (local.get $d1)))
    (local.set $u1
      (i64.add (local.get $t)
        (i64.extend_i32_u (i64.lt_u (i64.add (local.get $p0) (local.get $d0)) (local.get $d0)))))
    (local.set $upper
      (i64.or
        (i64.add
          (i64.add (local.get $p2) (i64.shr_u (local.get $ghi) (i64.sub (i64.const 64) (local.get $sh))))
          (i64.extend_i32_u (i32.or (local.get $c1) (i64.lt_u (local.get $u1) (local.get $t)))))
        (i64.extend_i32_u (i64.gt_u (local.get $u1) (i64.const 1)))))
    ;; lower: P - (g << sh), sh = h + 1, or h when narrow
    (local.set $sh (i64.sub (local.get $sh) (local.get $narrow)))
    (local.set $d0 (i64.shl (local.get $glo) (local.get $sh)))
    (local.set $d1
      (i64.or (i64.shl (local.get $ghi) (local.get $sh))
        (i64.shr_u (local.get $glo) (i64.sub (i64.const 64) (local.get $sh)))))
    (local.set $t (i64.sub (local.get $p1) (local.get $d1)))
    (local.set $c1 (i64.lt_u (local.get $p1) (local.get $d1)))
    (local.set $u1
      (i64.sub (local.get $t) (i64.extend_i32_u (i64.lt_u (local.get $p0) (local.get $d0)))))
    (local.set $lower
      (i64.or
        (i64.sub
          (i64.sub (local.get $p2) (i64.shr_u (local.get $ghi) (i64.sub (i64.const 64) (local.get $sh))))
          (i64.extend_i32_u (i32.or (local.get $c1) (i64.lt_u (local.get $t) (local.get $u1)))))
        (i64.extend_i32_u (i64.gt_u (local.get $u1) (i64.const 1)))))
    ;; An odd c excludes the interval's ends: move both a quarter-unit step inwards.
    (local.set $odd (i64.and (local.get $c) (i64.const 1)))
    (local.set $lower (i64.add (local.get $lower) (local.get $odd)))
    (local.set $upper (i64.sub (local.get $upper) (local.get $odd)))

    ;; ---- the digits
    ;; s = floor(v / 10^k) < 10^17, split as hs·10^8 + ls; then s / 10 = hs·10^7 + ls / 10.
    (local.set $s (i64.shr_u (local.get $vb) (i64.const 2)))
    (local.set $hs (i32.wrap_i64 (call $div1e8 (local.get $s))))
    (local.set $ls
      (i32.wrap_i64 (i64.sub (local.get $s) (i64.mul (i64.extend_i32_u (local.get $hs)) (i64.const 100000000)))))
    ;; The candidates are all computed, then chosen without branches (which way they go is as
    ;; good as random, and a mispredicted branch costs more than the arithmetic):
    ;; 1. One digit fewer: the multiple of 10 just below s or the one above, if exactly one is
    ;;    inside. (Only from s ≥ 10: below, a multiple of 10 is no shorter than s.)
    (local.set $sp
      (i64.add
        (i64.mul (i64.extend_i32_u (local.get $hs)) (i64.const 10000000))
        (i64.extend_i32_u (i32.div_u (local.get $ls) (i32.const 10)))))
    (local.set $in1 (i64.le_u (local.get $lower) (i64.mul (local.get $sp) (i64.const 40))))
    (local.set $in2
      (i64.le_u (i64.add (i64.mul (local.get $sp) (i64.const 40)) (i64.const 40)) (local.get $upper)))
    (local.set $shorter
      (i32.and (i64.ge_u (local.get $s) (i64.const 10)) (i32.ne (local.get $in1) (local.get $in2))))
    (local.set $up (local.get $in2))
    ;; 2. Same length: s or s + 1, if exactly one is inside; 3. else the one closer to v (the
    ;;    middle is 4s + 2; a tie goes to the even one).
    (local.set $in1 (i64.le_u (local.get $lower) (i64.shl (local.get $s) (i64.const 2))))
    (local.set $in2
      (i64.le_u (i64.add (i64.shl (local.get $s) (i64.const 2)) (i64.const 4)) (local.get $upper)))
    (local.set $w (i64.add (i64.shl (local.get $s) (i64.const 2)) (i64.const 2)))
    (local.set $up
      (select (local.get $up)
        (select (local.get $in2)
          (i32.or
            (i64.gt_u (local.get $vb) (local.get $w))
            (i32.and (i64.eq (local.get $vb) (local.get $w)) (i32.wrap_i64 (local.get $s))))
          (i32.ne (local.get $in1) (local.get $in2)))
        (local.get $shorter)))
    ;; v = d·10^k, d = (s / 10 or s) + up, as hd·10^8 + ld (ld may reach 10^8: carry it).
    (local.set $x (i32.div_u (local.get $hs) (i32.const 10)))
    (local.set $hd (select (local.get $x) (local.get $hs) (local.get $shorter)))
    (local.set $ld
      (i32.add (local.get $up)
        (select
          (i32.add
            (i32.mul (i32.sub (local.get $hs) (i32.mul (local.get $x) (i32.const 10))) (i32.const 10000000))
            (i32.div_u (local.get $ls) (i32.const 10)))
          (local.get $ls)
          (local.get $shorter))))
    (local.set $k (i32.add (local.get $k) (local.get $shorter)))
    (local.set $x (i32.eq (local.get $ld) (i32.const 100000000)))
    (local.set $hd (i32.add (local.get $hd) (local.get $x)))
    (local.set $ld (select (i32.const 0) (local.get $ld) (local.get $x)))
    ;; d's 17 digits, zero-padded, as a 17-byte string in three little-endian words:
    ;; x0 = top digit and 7 digits, x1 = 8 digits, x2 = the last digit (hd < 10^9).
    (local.set $top (i32.div_u (local.get $hd) (i32.const 100000000)))
    (local.set $w (call $d8 (i32.sub (local.get $hd) (i32.mul (local.get $top) (i32.const 100000000)))))
    (local.set $z (call $d8 (local.get $ld)))
    (local.set $x0
      (i64.or (i64.extend_i32_u (i32.add (local.get $top) (i32.const 48))) (i64.shl (local.get $w) (i64.const 8))))
    (local.set $x1 (i64.or (i64.shr_u (local.get $w) (i64.const 56)) (i64.shl (local.get $z) (i64.const 8))))
    (local.set $x2 (i64.shr_u (local.get $z) (i64.const 56)))
    ;; Leading zeros: ctz/8 of a word xor "00000000" counts its leading '0' bytes (8 for all:
    ;; ctz(0) = 64); trailing zeros likewise with clz, from the last byte back.
    (local.set $w (i64.xor (local.get $x0) (i64.const 0x3030303030303030)))
    (local.set $lz (i32.wrap_i64 (i64.shr_u (i64.ctz (local.get $w)) (i64.const 3))))
    (if (i64.eqz (local.get $w))
      (then
        (local.set $lz
          (i32.add (i32.const 8)
            (i32.wrap_i64
              (i64.shr_u (i64.ctz (i64.xor (local.get $x1) (i64.const 0x3030303030303030))) (i64.const 3)))))))
    (if (i64.eq (local.get $x2) (i64.const 48))
      (then
        (local.set $w (i64.xor (local.get $x1) (i64.const 0x3030303030303030)))
        (local.set $tz (i32.add (i32.const 1) (i32.wrap_i64 (i64.shr_u (i64.clz (local.get $w)) (i64.const 3)))))
        (if (i64.eqz (local.get $w))
          (then
            (local.set $tz
              (i32.add (i32.const 9)
                (i32.wrap_i64
                  (i64.shr_u (i64.clz (i64.xor (local.get $x0) (i64.const 0x3030303030303030))) (i64.const 3)))))))))
    ;; n: the decimal point's place after the first significant digit (v = 0.D × 10^n).
    (local.set $n (i32.add (i32.sub (i32.const 17) (local.get $lz)) (local.get $k)))
    (local.set $len (i32.sub (i32.sub (i32.const 17) (local.get $lz)) (local.get $tz)))
    ;; Drop the leading zeros: shift the string right by lz bytes (x2 then holds at most one).
    (if (i32.lt_u (local.get $lz) (i32.const 8))
      (then
        (local.set $sh (i64.extend_i32_u (i32.shl (local.get $lz) (i32.const 3))))
        ;; (y << 1) << (63 - sh) is y << (64 - sh), and 0 for sh = 0
        (local.set $x0
          (i64.or (i64.shr_u (local.get $x0) (local.get $sh))
            (i64.shl (i64.shl (local.get $x1) (i64.const 1)) (i64.sub (i64.const 63) (local.get $sh)))))
        (local.set $x1
          (i64.or (i64.shr_u (local.get $x1) (local.get $sh))
            (i64.shl (i64.shl (local.get $x2) (i64.const 1)) (i64.sub (i64.const 63) (local.get $sh)))))
        (local.set $x2 (i64.shr_u (local.get $x2) (local.get $sh))))
      (else
        ;; (a shift by 64 is one by 0 in WebAssembly: lz = 16, one digit, is x2 alone)
        (local.set $sh (i64.extend_i32_u (i32.shl (i32.sub (local.get $lz) (i32.const 8)) (i32.const 3))))
        (local.set $x (i32.eq (local.get $lz) (i32.const 16)))
        (local.set $x0
          (select (local.get $x2)
            (i64.or (i64.shr_u (local.get $x1) (local.get $sh))
              (i64.shl (i64.shl (local.get $x2) (i64.const 1)) (i64.sub (i64.const 63) (local.get $sh))))
            (local.get $x)))
        (local.set $x1 (select (i64.const 0) (i64.shr_u (local.get $x2) (local.get $sh)) (local.get $x)))
        (local.set $x2 (i64.const 0))))

    ;; ---- the layout Number.prototype.toString picks; D = the len digits in x0, x1, x2
    (if (i32.and (i32.gt_s (local.get $n) (i32.const 0)) (i32.le_s (local.get $n) (i32.const 21)))
      (then
        (i64.store (local.get $p) (local.get $x0))
        (i64.store offset=8 (local.get $p) (local.get $x1))
        (i64.store offset=16 (local.get $p) (local.get $x2))
        (if (i32.ge_s (local.get $n) (local.get $len))
          (then ;; DDD000: an integer, padded with zeros (at most 20)
            (local.set $x (i32.add (local.get $p) (local.get $len)))
            (i64.store (local.get $x) (i64.const 0x3030303030303030))
            (i64.store offset=8 (local.get $x) (i64.const 0x3030303030303030))
            (i64.store offset=16 (local.get $x) (i64.const 0x3030303030303030))
            (return (i32.add (local.get $p) (local.get $n)))))
        ;; DD.DDD: write the digits from index n (1 ≤ n ≤ 16) again, one byte to the right
        (if (i32.lt_u (local.get $n) (i32.const 8))
          (then
            (local.set $sh (i64.extend_i32_u (i32.shl (local.get $n) (i32.const 3))))
            (local.set $w
              (i64.or (i64.shr_u (local.get $x0) (local.get $sh))
                (i64.shl (local.get $x1) (i64.sub (i64.const 64) (local.get $sh)))))
            (local.set $z
              (i64.or (i64.shr_u (local.get $x1) (local.get $sh))
                (i64.shl (local.get $x2) (i64.sub (i64.const 64) (local.get $sh))))))
          (else
            ;; (n = 16: the last digit, x2, alone)
            (local.set $sh (i64.extend_i32_u (i32.shl (i32.sub (local.get $n) (i32.const 8)) (i32.const 3))))
            (local.set $x (i32.eq (local.get $n) (i32.const 16)))
            (local.set $w
              (select (local.get $x2)
                (i64.or (i64.shr_u (local.get $x1) (local.get $sh))
                  (i64.shl (i64.shl (local.get $x2) (i64.const 1)) (i64.sub (i64.const 63) (local.get $sh))))
                (local.get $x)))
            (local.set $z (select (i64.const 0) (i64.shr_u (local.get $x2) (local.get $sh)) (local.get $x)))))
        (local.set $x (i32.add (local.get $p) (local.get $n)))
        (i32.store8 (local.get $x) (i32.const 46)) ;; '.'
        (i64.store offset=1 (local.get $x) (local.get $w))
        (i64.store offset=9 (local.get $x) (local.get $z))
        (return (i32.add (i32.add (local.get $p) (local.get $len)) (i32.const 1)))))
    (if (i32.and (i32.gt_s (local.get $n) (i32.const -6)) (i32.le_s (local.get $n) (i32.const 0)))
      (then ;; 0.000DDD: "0." and -n zeros (at most 5) before the digits
        (i64.store (local.get $p) (i64.const 0x3030303030302e30)) ;; "0.000000"
        (local.set $p (i32.sub (i32.add (local.get $p) (i32.const 2)) (local.get $n)))
        (i64.store (local.get $p) (local.get $x0))
        (i64.store offset=8 (local.get $p) (local.get $x1))
        (i64.store offset=16 (local.get $p) (local.get $x2))
        (return (i32.add (local.get $p) (local.get $len)))))
    ;; D.DDDe±XX: exponent form, the exponent with at least two digits (Go's style)
    (i64.store (local.get $p) (i64.or (i64.and (local.get $x0) (i64.const 0xff)) (i64.const 0x2e00))) ;; "D."
    (i64.store offset=2 (local.get $p)
      (i64.or (i64.shr_u (local.get $x0) (i64.const 8)) (i64.shl (local.get $x1) (i64.const 56))))
    (i64.store offset=10 (local.get $p)
      (i64.or (i64.shr_u (local.get $x1) (i64.const 8)) (i64.shl (local.get $x2) (i64.const 56))))
    ;; one digit: no point
    (local.set $p (i32.add (local.get $p) (select (i32.const 1) (i32.add (local.get $len) (i32.const 1))
      (i32.eq (local.get $len) (i32.const 1)))))
    (local.set $x (i32.sub (local.get $n) (i32.const 1)))
    (if (i32.lt_s (local.get $x) (i32.const 0))
      (then
        (i32.store16 (local.get $p) (i32.const 0x2d65)) ;; "e-"
        (local.set $x (i32.sub (i32.const 0) (local.get $x))))
      (else (i32.store16 (local.get $p) (i32.const 0x2b65)))) ;; "e+"
    (local.set $p (i32.add (local.get $p) (i32.const 2)))
    (if (i32.ge_u (local.get $x) (i32.const 100))
      (then
        (i32.store8 (local.get $p) (i32.add (i32.div_u (local.get $x) (i32.const 100)) (i32.const 48)))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (local.set $x (i32.rem_u (local.get $x) (i32.const 100)))))
    (i32.store16 (local.get $p) (i32.load16_u offset=64 (i32.shl (local.get $x) (i32.const 1))))
    (i32.add (local.get $p) (i32.const 2)))

  ;; ---- timestamps ----------------------------------------------------------------------------

  ;; $stamp writes `[` + String(t/1000) + `,"` at p for t in integral milliseconds and returns the
  ;; end, or -1 when t is not integral or |t| ≥ 2^43 s. Below 2^43 s, doubles are less than a
  ;; millisecond apart, so the decimal t/1000 (at most three fraction digits) is the only
  ;; candidate that short and is what JavaScript prints: whole seconds, then the milliseconds
  ;; without trailing zeros.
  (func $stamp (param $t f64) (param $p i32) (result i32)
    (local $a i64) (local $sec i64) (local $ms i32) (local $r i32)
    (if (i32.eqz
          (i32.and
            (f64.lt (f64.abs (local.get $t)) (f64.const 8796093022208000)) ;; 2^43 · 1000 (false for NaN)
            (f64.eq (local.get $t) (f64.trunc (local.get $t)))))
      (then (return (i32.const -1))))
    (i32.store8 (local.get $p) (i32.const 91)) ;; '['
    (local.set $p (i32.add (local.get $p) (i32.const 1)))
    (local.set $a (i64.trunc_f64_s (local.get $t)))
    (if (i64.lt_s (local.get $a) (i64.const 0))
      (then
        (i32.store8 (local.get $p) (i32.const 45)) ;; '-'
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (local.set $a (i64.sub (i64.const 0) (local.get $a)))))
    (local.set $sec (i64.div_u (local.get $a) (i64.const 1000)))
    (local.set $ms (i32.wrap_i64 (i64.sub (local.get $a) (i64.mul (local.get $sec) (i64.const 1000)))))
    (local.set $p (call $u64 (local.get $sec) (local.get $p)))
    (if (local.get $ms)
      (then
        (i32.store8 (local.get $p) (i32.const 46)) ;; '.'
        (i32.store8 offset=1 (local.get $p) (i32.add (i32.div_u (local.get $ms) (i32.const 100)) (i32.const 48)))
        (local.set $r (i32.rem_u (local.get $ms) (i32.const 100)))
        (i32.store16 offset=2 (local.get $p) (i32.load16_u offset=64 (i32.shl (local.get $r) (i32.const 1))))
        ;; keep 1, 2 or 3 fraction digits: up to the last nonzero one
        (local.set $p
          (i32.add (local.get $p)
            (select (i32.const 2)
              (select (i32.const 4) (i32.const 3) (i32.rem_u (local.get $r) (i32.const 10)))
              (i32.eqz (local.get $r)))))))
    (i32.store16 (local.get $p) (i32.const 0x222c)) ;; ,"
    (i32.add (local.get $p) (i32.const 2)))

  ;; ---- entry -----------------------------------------------------------------------------------

  ;; $points renders n points: timestamps are the f64s at tp, values the f64s at vp; the bytes
  ;; go to out (which needs 48·n + 64 bytes); returns their count, or -1 (see $stamp). cache is
  ;; 32·n bytes kept by the caller between calls: slot k holds the last timestamp seen at index k
  ;; (f64, NaN when empty), its text (`[…,"`, at most 21 bytes, from byte 8) and the text's length
  ;; (byte 31). A range query's series share their timestamps, so every series after the first
  ;; copies them instead of printing them.
  (func (export "points") (param $n i32) (param $tp i32) (param $vp i32) (param $cache i32) (param $out i32)
    (result i32)
    (local $p i32) (local $end i32) (local $t f64) (local $q i32)
    (local.set $p (local.get $out))
    (local.set $end (i32.add (local.get $tp) (i32.shl (local.get $n) (i32.const 3))))
    (if (i32.eqz (local.get $n)) (then (return (i32.const 0))))
    (loop $point
      (local.set $t (f64.load (local.get $tp)))
      (if (f64.eq (local.get $t) (f64.load (local.get $cache)))
        (then
          (i64.store (local.get $p) (i64.load offset=8 (local.get $cache)))
          (i64.store offset=8 (local.get $p) (i64.load offset=16 (local.get $cache)))
          (i64.store offset=16 (local.get $p) (i64.load offset=24 (local.get $cache)))
          (local.set $p (i32.add (local.get $p) (i32.load8_u offset=31 (local.get $cache)))))
        (else
          (local.set $q (call $stamp (local.get $t) (local.get $p)))
          (if (i32.lt_s (local.get $q) (i32.const 0)) (then (return (i32.const -1))))
          (f64.store (local.get $cache) (local.get $t))
          (i64.store offset=8 (local.get $cache) (i64.load (local.get $p)))
          (i64.store offset=16 (local.get $cache) (i64.load offset=8 (local.get $p)))
          (i64.store offset=24 (local.get $cache) (i64.load offset=16 (local.get $p)))
          (i32.store8 offset=31 (local.get $cache) (i32.sub (local.get $q) (local.get $p)))
          (local.set $p (local.get $q))))
      (local.set $p (call $value (f64.load (local.get $vp)) (local.get $p)))
      (i32.store16 (local.get $p) (i32.const 0x5d22)) ;; "]
      (i32.store8 offset=2 (local.get $p) (i32.const 44)) ;; ',' (dropped after the last point)
      (local.set $p (i32.add (local.get $p) (i32.const 3)))
      (local.set $tp (i32.add (local.get $tp) (i32.const 8)))
      (local.set $vp (i32.add (local.get $vp) (i32.const 8)))
      (local.set $cache (i32.add (local.get $cache) (i32.const 32)))
      (br_if $point (i32.lt_u (local.get $tp) (local.get $end))))
    (i32.sub (i32.sub (local.get $p) (local.get $out)) (i32.const 1)))
)
