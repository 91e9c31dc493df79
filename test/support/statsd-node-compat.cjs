/**
 * Preloaded (`node --require`) into the etsy statsd daemon by test/support/real-servers.ts: statsd 0.9
 * logs with `util.log`, which Node 23 removed, so on a current Node LTS it would crash at start-up.
 * This puts back an equivalent (timestamped console.log) only where it is missing.
 */
'use strict';

const util = require('node:util');

if (typeof util.log !== 'function') {
  util.log = (...args) => console.log(new Date().toISOString(), '-', util.format(...args));
}
