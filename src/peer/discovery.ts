/**
 * How nodes of a hashring find each other's StoreAPI: the hashring names remote-write addresses,
 * and each node's remote-write listener answers GET STORE_API_PATH with {"port": N}, the port its
 * StoreAPI (gRPC) is bound to; the host is the endpoint's. A constant of its own so the gateway
 * threads that serve it load nothing of the query side.
 */
export const STORE_API_PATH = '/api/v1/status/storeapi';
