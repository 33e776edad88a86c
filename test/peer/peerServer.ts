/**
 * A fake peer for the client and fan-out tests: a real node:http server on loopback whose answer
 * is chosen per request by a `behave` callback (status code, hang, drop the connection). It records
 * every request it received with its headers and snappy-decoded body.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import snappy from 'snappy';

/** Received is one request a FakePeer got. */
export interface Received {
  headers: IncomingMessage['headers'];
  path: string;
  body: Uint8Array;
}

/** Behaviour is what a FakePeer does with a request: a status, 'hang' or 'drop'. */
export type Behaviour = number | 'hang' | 'drop';

/** FakePeer is a started fake peer. */
export interface FakePeer {
  address: string;
  received: Received[];
  behave: (r: Received) => Behaviour;
  close(): Promise<void>;
}

/** startPeer starts a fake peer answering with `behave` (changeable later through the result). */
export async function startPeer(behave: (r: Received) => Behaviour): Promise<FakePeer> {
  const peer: FakePeer = { address: '', received: [], behave, close: async () => {} };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      let body: Uint8Array = new Uint8Array(0);
      try { body = snappy.uncompressSync(raw, { asBuffer: true }) as Buffer; } catch { /* recorded empty */ }
      const r: Received = { headers: req.headers, path: req.url ?? '', body };
      peer.received.push(r);
      const b = peer.behave(r);
      if (b === 'hang') return;
      if (b === 'drop') { req.socket.destroy(); return; }
      res.statusCode = b;
      res.end(b >= 300 ? `status ${b} from fake peer` : '');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  peer.address = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  peer.close = () => new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
  return peer;
}

/** deadAddress returns a loopback address where nothing listens (a port just freed). */
export async function deadAddress(): Promise<string> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return `127.0.0.1:${port}`;
}
