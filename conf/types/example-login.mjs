// @ts-check
/**
 * An example canihaz scenario module: log in once, then per execution fetch the profile and the cart
 * with the token. To use it, copy it to `<types_dir>/<name>.mjs` (default /etc/canihaz/types, owned
 * by root, mode 0644), e.g. /etc/canihaz/types/shop-login.mjs, and name it as the test type:
 *
 *   checkout 60 shop-login base_url=https://shop.example user=probe
 *
 * What it reports beside every test's own figures (`<test>.ok`, `.failed.<reason>`, `.latency`, …):
 *   <test>.step.profile, <test>.step.cart                timings (ms) of each step
 *   <test>.step.profile.ok, <test>.step.profile.failed   counters, and the same for `cart`
 *   <test>.cart_items                                     counter: the items the carts held
 * Its failures: `setup` (the login failed: no execution runs), `step_profile`, `step_cart`, `timeout`.
 *
 * The JSDoc types come from `canihaz/scenario` (an editor finds them when the canihaz package is
 * installed beside the module, e.g. `npm install canihaz` in the directory you edit it in).
 */

/** @typedef {{ token: string }} Session */

/** The keys a line may give: `base_url=` (required) and `user=` (default `probe`). */
/** @type {import('canihaz/scenario').Params} */
export const params = {
  base_url: { required: true, doc: 'the site, e.g. base_url=https://shop.example' },
  user: { default: 'probe', doc: 'the account to log in as' },
};

/**
 * Logs in once per run, before the first execution: POST /login → { token }.
 * @type {import('canihaz/scenario').SetupFunction<Session>}
 */
export async function setup(ctx) {
  const res = await ctx.http.request(`${ctx.params.base_url}/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ user: ctx.params.user }),
  });
  if (res.status !== 200) throw new Error(`POST /login answered ${res.status}`);
  const { token } = /** @type {{ token?: unknown }} */ (await res.json());
  if (typeof token !== 'string') throw new Error('POST /login answered without a token');
  return { token };
}

/**
 * One execution: the profile, then the cart, with the token from setup.
 * @type {import('canihaz/scenario').ScenarioFunction<Session>}
 */
export default async function (ctx) {
  const headers = { authorization: `Bearer ${ctx.data.token}` };
  await ctx.step('profile', async () => {
    const res = await ctx.http.request(`${ctx.params.base_url}/profile`, { headers });
    if (res.status !== 200) throw new Error(`GET /profile answered ${res.status}`);
  });
  const items = await ctx.step('cart', async () => {
    const res = await ctx.http.request(`${ctx.params.base_url}/cart`, { headers });
    if (res.status !== 200) throw new Error(`GET /cart answered ${res.status}`);
    const cart = /** @type {{ items?: unknown[] }} */ (await res.json());
    return cart.items ?? [];
  });
  ctx.count('cart_items', items.length);
}
