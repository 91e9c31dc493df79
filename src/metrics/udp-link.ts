/**
 * StatsD's UDP side, the counterpart of `TcpLink`: the host resolved (again after a failure), one
 * socket bound (binding is what fails when the process is out of file descriptors, and is retried
 * with backoff), and datagrams sent with a bound on those whose callback has not fired.
 */
import dgram from 'node:dgram';
import type { Clock } from '../clock.js';
import type { HostResolver } from '../net/resolve.js';
import { Backoff, resolveHost } from './transport.js';

/** What a UDP link needs. */
export interface UdpLinkOptions {
  host: string;
  port: number;
  clock: Clock;
  resolver: HostResolver;
  /** Most datagrams whose send callback has not fired; beyond it a datagram is dropped (`socket busy`). */
  maxInFlight: number;
  warnError(err: unknown): void;
  /** Bound (or asked again while bound): send what waits. */
  onReady(): void;
  /** A datagram's lines were not sent. */
  onDropped(lines: number, reason: string): void;
  /** A send callback fired: what waits for the sink to be idle may go on. */
  onSettled(): void;
}

/** A UDP socket towards one StatsD server. */
export class UdpLink {
  #o: UdpLinkOptions;
  #backoff: Backoff;
  #address: string | undefined;
  #family: 4 | 6 = 4;
  #resolving = false;
  #socket: dgram.Socket | undefined;
  #binding = false;
  #inFlight = 0;
  #shutDown = false;

  constructor(options: UdpLinkOptions) {
    this.#o = options;
    this.#backoff = new Backoff(options.clock);
  }

  /** True once the host name has resolved. */
  get resolved(): boolean {
    return this.#address !== undefined;
  }
  /** True when a datagram can be sent now. */
  get ready(): boolean {
    return this.#socket !== undefined && this.#address !== undefined;
  }
  /** Datagrams whose send callback has not fired. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Resolves the host (once; again after a failure), then binds the socket; when bound already, `onReady`. */
  connect(): void {
    if (this.#resolving) return;
    if (this.#address !== undefined) {
      if (this.#socket) this.#o.onReady();
      else this.#bind();
      return;
    }
    this.#resolving = true;
    void resolveHost(this.#o.resolver, this.#o.host).then((resolved) => {
      this.#resolving = false;
      if (this.#shutDown) return;
      if (!resolved.ok) {
        if (resolved.error !== undefined) this.#o.warnError(resolved.error);
        this.#retry();
        return;
      }
      this.#address = resolved.address;
      this.#family = resolved.family;
      this.#bind();
    });
  }

  /** At stop, with packets waiting: do not sit out a backoff, try once more now. */
  retryNow(): void {
    if (this.#resolving) return;
    this.#backoff.cancel();
    this.#backoff.reset();
    this.connect();
  }

  /** No more binds or retries. */
  shutDown(): void {
    this.#shutDown = true;
    this.#backoff.cancel();
  }

  /** Closes the socket. */
  close(): void {
    this.#socket?.close();
    this.#socket = undefined;
  }

  /** Sends one datagram (only when `ready`). */
  send(text: string, lines: number): void {
    const socket = this.#socket;
    const address = this.#address;
    if (!socket || address === undefined) return;
    if (this.#inFlight >= this.#o.maxInFlight) {
      this.#o.onDropped(lines, 'socket busy');
      return;
    }
    this.#inFlight += 1;
    try {
      socket.send(text, this.#o.port, address, (err) => {
        this.#inFlight -= 1;
        if (err) {
          this.#o.warnError(err);
          this.#o.onDropped(lines, 'send failed');
        }
        this.#o.onSettled();
      });
    } catch (err) {
      this.#inFlight -= 1;
      this.#o.warnError(err);
      this.#o.onDropped(lines, 'send failed');
    }
  }

  /** Binds a socket, then `onReady`; a bind that fails (EMFILE) is warned about and retried with backoff. */
  #bind(): void {
    if (this.#binding || this.#shutDown) return;
    this.#binding = true;
    const failed = (err: unknown, socket?: dgram.Socket) => {
      this.#binding = false;
      try {
        socket?.close();
      } catch {
        // never bound: nothing to close
      }
      this.#o.warnError(err);
      this.#retry();
    };
    let socket: dgram.Socket;
    try {
      socket = dgram.createSocket(this.#family === 6 ? 'udp6' : 'udp4');
    } catch (err) {
      failed(err);
      return;
    }
    socket.unref();
    const onBindError = (err: Error) => failed(err, socket);
    socket.once('error', onBindError);
    socket.bind({ port: 0, exclusive: true }, () => {
      socket.off('error', onBindError);
      socket.on('error', (err) => this.#o.warnError(err));
      this.#binding = false;
      if (this.#shutDown) {
        socket.close();
        return;
      }
      this.#socket = socket;
      this.#o.onReady();
    });
  }

  #retry(): void {
    if (!this.#shutDown) this.#backoff.schedule(() => this.connect());
  }
}
