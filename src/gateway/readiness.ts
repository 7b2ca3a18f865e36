/**
 * Whether this process wants new requests. A node told to stop first drains: `/readyz`
 * answers 503 so load balancers send new requests elsewhere, while the requests that
 * still arrive are served (src/cli/serve.ts).
 */
export class Readiness {
  #draining = false;

  /** From now on `/readyz` answers 503 `draining`; requests are still served. There is no way back. */
  drain(): void {
    this.#draining = true;
  }

  get draining(): boolean {
    return this.#draining;
  }
}
