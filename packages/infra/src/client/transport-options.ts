/** Options of {@link HttpTransport}. */
export interface TransportOptions<Extra = unknown> {
  /** The service's base URL, e.g. `http://127.0.0.1:4002`; calls go to `<url>/trpc`. */
  url: string;
  /** Calls per HTTP request: the target's `MAX_BATCH_SIZE`. */
  maxBatchSize: number;
  /**
   * Longest URL of a batch of queries plus what its calls add to its headers (see
   * `headerBytes`); longer batches are split. @default 8000
   */
  maxUrlLength?: number;
  /** About how many bytes a call adds to its request's headers when batched (per-call headers). */
  headerBytes?: (call: OutboundCall<Extra>) => number;
}

/** One call handed to the transport. */
export interface OutboundCall<Extra = unknown> {
  readonly path: string;
  readonly type: 'query' | 'mutation';
  readonly input: unknown;
  /** What the caller keeps with the call (e.g. its budget), read when headers are made. */
  readonly extra: Extra;
}

/** The headers of one HTTP request, from the calls it carries. */
export type BatchHeaders<Extra> = (calls: ReadonlyArray<OutboundCall<Extra>>) => Record<string, string>;
