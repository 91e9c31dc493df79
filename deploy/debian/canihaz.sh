#!/bin/sh
# canihaz: the agent on the Node.js runtime embedded in this package (never the system's node).
exec /usr/lib/canihaz/node/bin/node /usr/lib/canihaz/dist/cli.js "$@"
