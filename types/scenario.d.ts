/**
 * canihaz scenario modules: the declarations an operator's editor uses for `<types_dir>/<type>.mjs`.
 *
 *   // @ts-check
 *   /** @type {import('canihaz/scenario').Params} *\/
 *   export const params = { base_url: { required: true, doc: 'the site, e.g. https://shop.example' } };
 *   /** @type {import('canihaz/scenario').ScenarioFunction} *\/
 *   export default async function (ctx) { await ctx.http.request(`${ctx.params.base_url}/health`); }
 *
 * The agent itself implements these interfaces (src/probes/scenario/ is type-checked against this
 * file), so what an editor promises is what a run gives.
 */

/** One key a module accepts on its config line (`key=value`). */
export interface ParamSpec {
  /** The line must give the key. Default false. Not together with `default`. */
  required?: boolean;
  /** The value when the line does not give the key. Without one, an absent key is absent from `ctx.params`. */
  default?: string;
  /** One line for operators, shown when a required key is missing. */
  doc?: string;
}

/**
 * The keys a module accepts, by name (`[a-z][a-z0-9_]*`, not `timeout` or `concurrency`, which every
 * test accepts). Any other key on a line is an error, as for built-in types.
 */
export type Params = Readonly<Record<string, ParamSpec>>;

/** What `ctx.http.request` may send. */
export interface HttpRequestOptions {
  /** Default `GET`. */
  method?: string;
  /** Request headers; a list value sends the header once per item. */
  headers?: Readonly<Record<string, string | readonly string[]>>;
  /** The request body, sent as given (a Content-Length is set). */
  body?: string | Uint8Array;
}

/** A response whose body has already been read in full (at most 1 MiB kept; the rest is read and discarded). */
export interface HttpResponse {
  status: number;
  /** Response headers, names lower-cased. */
  headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The body as UTF-8 text. */
  text(): Promise<string>;
  /** The body parsed as JSON; rejects when it is not JSON (or was cut at 1 MiB). */
  json<T = unknown>(): Promise<T>;
}

/** HTTP on kept-alive connections shared per test and origin; every request honours `ctx.signal`. */
export interface HttpClient {
  /**
   * Sends one request to an absolute `http:` or `https:` URL (no credentials in it: send an
   * Authorization header). Resolves once the whole body is in, whatever the status; rejects on a
   * network failure (the error's `reason` is `refused`, `reset`, `dns`, `tls`, `timeout` or `other`).
   */
  request(url: string | URL, options?: HttpRequestOptions): Promise<HttpResponse>;
}

/** An open WebSocket; closed by the agent when the execution ends, if the module has not closed it. */
export interface WebSocketSession {
  /** Sends a text message. */
  send(text: string): void;
  /**
   * The next text message (containing `contains`, when given; others are skipped). Rejects with an
   * error whose `reason` is `closed`, `mismatch` (messages came, none matched), `timeout` (after
   * `timeoutMs`, default the test's timeout) or `aborted` (`ctx.signal`).
   */
  receive(options?: { contains?: string; timeoutMs?: number }): Promise<string>;
  /** Closes the connection. */
  close(): Promise<void>;
}

/** WebSocket connections (`ws://`, `wss://`) for the execution. */
export interface WebSocketClient {
  /**
   * Opens a connection; resolves once the upgrade is done. Rejects with an error whose `reason` is
   * `refused`, `timeout`, `dns`, `tls`, `reset`, `status_<n>` (the upgrade answered n) or `other`.
   */
  connect(url: string | URL, options?: { headers?: Readonly<Record<string, string>> }): Promise<WebSocketSession>;
}

/** What `setup(ctx)` gets: no `data` yet, and no metrics (setup is not an execution). */
export interface SetupContext {
  /** The line's `key=value` values, defaults applied. */
  readonly params: Readonly<Record<string, string>>;
  /** Aborts when the run stops or the timeout is reached; pass it to anything long. */
  readonly signal: AbortSignal;
  /** The test's name (the config line's name). */
  readonly test: string;
  readonly http: HttpClient;
  readonly ws: WebSocketClient;
}

/** What `teardown(ctx)` gets: what setup returned. */
export interface TeardownContext<Data = unknown> extends SetupContext {
  readonly data: Data;
}

/** What one execution gets. */
export interface ScenarioContext<Data = unknown> extends SetupContext {
  /** What `setup` returned (undefined without a setup). */
  readonly data: Data;
  /**
   * Runs `fn` as the step `name`: timing `step.<name>`, counter `step.<name>.ok` or
   * `step.<name>.failed`. A throw fails the execution with reason `step_<name>` (lower-cased, cut
   * to 32 characters) unless the error carries its own `reason`, and is rethrown.
   */
  step<T>(name: string, fn: () => T | Promise<T>): Promise<T>;
  /** Adds `n` (default 1) to the counter `<test>.<name>`. */
  count(name: string, n?: number): void;
  /** Records `ms` (finite, >= 0) in the timing `<test>.<name>`. */
  timing(name: string, ms: number): void;
  /** Sets the gauge `<test>.<name>` to `value`. */
  gauge(name: string, value: number): void;
}

// The functions' results are ignored. `Promise<any>`, not `Promise<unknown>`: a JSDoc-typed `async
// function` without `return` must type-check (TS2355), and so must one returning a response.
/** The default export: one execution. It succeeds unless it throws or rejects. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- see above
export type ScenarioFunction<Data = unknown> = (ctx: ScenarioContext<Data>) => void | Promise<any>;
/** Runs once per test per run before the first execution; what it returns is `ctx.data`. */
export type SetupFunction<Data = unknown> = (ctx: SetupContext) => Data | Promise<Data>;
/** Runs once when the test ends (the run ends, or a reload drops or changes it), after a successful setup. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- see ScenarioFunction
export type TeardownFunction<Data = unknown> = (ctx: TeardownContext<Data>) => void | Promise<any>;

/** A module's exports, for a TypeScript module or a check with `satisfies`. */
export interface Scenario<Data = unknown> {
  default: ScenarioFunction<Data>;
  params?: Params;
  setup?: SetupFunction<Data>;
  teardown?: TeardownFunction<Data>;
}

/** An error that names its failure: `reason` (`[a-z0-9_]{1,32}`) is counted as `failed.<reason>`; otherwise `other`. */
export interface ScenarioError extends Error {
  reason?: string;
}
