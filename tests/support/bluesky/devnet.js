// A real local Bluesky network for the collector tests: PLC, PDS and AppView
// (plus the Ozone moderation service TestNetwork always brings), from
// @atproto/dev-env. Every server is forced onto 127.0.0.1 (dev-env would listen
// on all interfaces). Needs DB_POSTGRES_URL, DB_POSTGRES_SCHEMA and REDIS_HOST.
//
// Prints one JSON line {"ready": true, "pds": ..., "bsky": ..., "plc": ...} on
// stdout once the network serves, then runs until stdin closes or SIGTERM.
'use strict'

const dns = require('node:dns')
const net = require('node:net')

// Services call each other at http://localhost:<port>; we listen on IPv4 only.
dns.setDefaultResultOrder('ipv4first')

const LOOPBACK = '127.0.0.1'
const listen = net.Server.prototype.listen
net.Server.prototype.listen = function (...args) {
  const first = args[0]
  if (first !== null && typeof first === 'object' && !Array.isArray(first)) {
    if (first.path === undefined) args[0] = { ...first, host: LOOPBACK }
  } else if (typeof first === 'number' || (typeof first === 'string' && /^\d+$/.test(first))) {
    const rest = args.slice(1)
    if (typeof rest[0] === 'string') rest.shift() // a host given by the caller
    args = [Number(first), LOOPBACK, ...rest]
  } else if (first === undefined || typeof first === 'function') {
    args = [0, LOOPBACK, ...args]
  }
  return listen.apply(this, args)
}

const { TestNetwork } = require('@atproto/dev-env')

async function main() {
  const network = await TestNetwork.create({
    dbPostgresSchema: process.env.DB_POSTGRES_SCHEMA || 'devnet',
  })
  let closing = false
  const close = async () => {
    if (closing) return
    closing = true
    try {
      await network.close()
    } finally {
      process.exit(0)
    }
  }
  process.on('SIGTERM', close)
  process.on('SIGINT', close)
  process.stdin.on('end', close)
  process.stdin.resume()
  process.stdout.write(
    JSON.stringify({
      ready: true,
      pds: network.pds.url,
      bsky: network.bsky.url,
      plc: network.plc.url,
      pdsDid: network.pds.ctx.cfg.service.did,
    }) + '\n',
  )
}

main().catch((err) => {
  process.stderr.write(`devnet failed: ${err && err.stack ? err.stack : err}\n`)
  process.exit(1)
})
