import type { ClientRequest } from 'node:http';
import type { CallSink } from '../policies/call-attempt.js';
import type { HttpTransport } from './transport.js';
import type { BatchHeaders, OutboundCall } from './transport-options.js';

/** A call waiting for its answer; it listens for its cancellation itself (no closure per call). */
export class Pending<Extra> {
  /** The input as sent (superjson), made when the batch is formed. */
  wire: unknown = undefined;
  settled = false;
  /** The HTTP request carrying it, once sent. */
  flight: Flight<Extra> | undefined = undefined;
  /** The call, and where its outcome goes: let go of when it settles (see HttpTransport.settle). */
  call: OutboundCall<Extra> | undefined;
  sink: CallSink | undefined;

  constructor(
    readonly transport: HttpTransport<Extra>,
    call: OutboundCall<Extra>,
    sink: CallSink,
  ) {
    this.call = call;
    this.sink = sink;
  }

  /** Cancelled: it rejects with the reason; its request ends when no call in it waits. */
  cancelled(reason: Error): void {
    this.transport.settle(this, undefined, reason);
  }
}

/** One HTTP request and the calls it carries. */
export interface Flight<Extra> {
  readonly req: ClientRequest;
  readonly batch: ReadonlyArray<Pending<Extra>>;
}

/** The calls of one batching group waiting for the next flush, by type. */
export interface Group<Extra> {
  headers: BatchHeaders<Extra>;
  query: Array<Pending<Extra>>;
  mutation: Array<Pending<Extra>>;
}
