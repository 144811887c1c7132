// crypto_interop.mjs: our C crypto (common/, driven through
// $UNITDIR/tool_nostr) against nostr-tools, both directions:
//   - events signed by nostr-tools (awkward content and tags) verify in C,
//     and C serializes them byte for byte as nostr-tools does;
//   - events signed in C verify in nostr-tools with the same id;
//   - NIP-04 and NIP-44 ciphertexts decrypt across;
//   - documented refusals: "\u0000" and lone surrogates in events, and
//     NIP-44 plaintexts over 65535 bytes (nostr-tools writes the newer
//     6-byte prefix; we follow the official vectors: see nip44.h).
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { finalizeEvent, verifyEvent, getPublicKey, generateSecretKey, serializeEvent, getEventHash } from 'nostr-tools/pure'
import * as nip04 from 'nostr-tools/nip04'
import * as nip44 from 'nostr-tools/nip44'
import * as nip19 from 'nostr-tools/nip19'
import { bytesToHex } from '@noble/hashes/utils.js'

const FILE = 'crypto_interop.mjs'
const TOOL = `${process.env.UNITDIR || 'build/build/tests'}/tool_nostr`
let failed = 0

function pass(name) { console.log(`PASS: ${FILE}: ${name}`) }
function fail(name, why) { failed++; console.log(`FAIL: ${FILE}: ${name}: ${String(why).replace(/\n/g, ' ').slice(0, 300)}`) }

// Run the tool with a hard timeout; returns { code, out, err }.
function tool(args, input) {
  const r = spawnSync(TOOL, args, { input, timeout: 20000, maxBuffer: 64 << 20 })
  if (r.error) throw r.error
  return { code: r.status, out: r.stdout.toString('utf8'), err: r.stderr.toString('utf8') }
}

function check(name, fn) {
  try {
    const why = fn()
    if (why === true) pass(name)
    else fail(name, why || 'check failed')
  } catch (e) {
    fail(name, e.stack || e)
  }
}

if (!existsSync(TOOL)) {
  fail('setup', `${TOOL} not built (make O=... unit)`)
  process.exit(1)
}

let c0 = ''
for (let i = 1; i < 0x20; i++) c0 += String.fromCharCode(i)
const awkward = {
  escapes: 'l1\nl2\t"q" \\ \r\b\f end',
  c0controls: c0,
  unicode: 'é 😀 中文 \u2028\u2029 \ufeff 𝄞',
  del_and_slash: '/\u007f</script>//\\/',
  empty: '',
  json_in_json: JSON.stringify([['i', 'what?\n', 'text'], ['param', 'x', '"1"']]),
  long: 'ab\ncd\u0001😀'.repeat(3000),	// x3 (content + 2 tags) stays under EVENT_MAX_JSON
}

const sk = generateSecretKey()
const skhex = bytesToHex(sk)
const pk = getPublicKey(sk)

// 1. nostr-tools signs, C verifies and serializes identically.
for (const [name, content] of Object.entries(awkward)) {
  check(`nt_signed_verifies_in_c_${name}`, () => {
    const ev = finalizeEvent({
      kind: 5050, created_at: 1700000000 + content.length, content,
      tags: [['i', content, 'text'], ['param', 'k', content], ['p', pk], ['x']],
    }, sk)
    const json = JSON.stringify(ev)
    const v = tool(['verify'], json)
    if (v.code !== 0) return `verify exit ${v.code}: ${v.err}`
    if (v.out.trim() !== ev.id) return `id ${v.out.trim()} != ${ev.id}`
    const s = tool(['serialize'], json)
    if (s.code !== 0) return `serialize exit ${s.code}`
    if (s.out !== serializeEvent(ev)) return 'serialization differs from nostr-tools'
    return true
  })
}

// 2. C signs, nostr-tools verifies (same id, same serialization).
for (const [name, content] of Object.entries(awkward)) {
  check(`c_signed_verifies_in_nt_${name}`, () => {
    const tmpl = { kind: 6050, created_at: 1700000123, content, tags: [['e', 'a'.repeat(64)], ['status', content, 'x']] }
    const r = tool(['sign', skhex], JSON.stringify(tmpl))
    if (r.code !== 0) return `sign exit ${r.code}: ${r.err}`
    const ev = JSON.parse(r.out)
    if (ev.pubkey !== pk) return 'pubkey differs'
    if (ev.content !== content) return 'content changed'
    if (getEventHash(ev) !== ev.id) return 'id differs from nostr-tools getEventHash'
    if (!verifyEvent(ev)) return 'nostr-tools rejects our signature'
    return true
  })
}

// 2b. The id is over the decoded strings, never the wire bytes: the same
// nostr-tools event written with \uXXXX for every non-ASCII character,
// '\/' for '/', and pretty-printed, verifies in C with the same id.
function asciiJSON(v) {
  return JSON.stringify(v, null, 2)
    .replace(/[\u007f-\uffff]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'))
    .replace(/\//g, '\\/')
}
check('c_verifies_reencoded_json', () => {
  for (const [name, content] of Object.entries(awkward)) {
    if (name === 'long') continue
    const ev = finalizeEvent({ kind: 1, created_at: 1700000000, content, tags: [['t', content]] }, sk)
    const text = asciiJSON(ev)
    if (text === JSON.stringify(ev)) return 'no re-encoding happened'
    const v = tool(['verify'], text)
    if (v.code !== 0) return `${name}: verify exit ${v.code}: ${v.err}`
    if (v.out.trim() !== ev.id) return `${name}: id differs`
  }
  return true
})

// 3. Tampering is caught by C: content, tag, created_at, sig.
check('c_rejects_tampered_events', () => {
  const ev = finalizeEvent({ kind: 1, created_at: 1700000000, content: 'hello', tags: [['t', 'x']] }, sk)
  const bad = [
    { ...ev, content: 'hellp' },
    { ...ev, tags: [['t', 'y']] },
    { ...ev, created_at: ev.created_at + 1 },
    { ...ev, sig: (ev.sig[0] === 'a' ? 'b' : 'a') + ev.sig.slice(1) },
    { ...ev, pubkey: getPublicKey(generateSecretKey()) },
  ]
  for (const [i, b] of bad.entries()) {
    const v = tool(['verify'], JSON.stringify(b))
    if (v.code !== 1) return `tampered case ${i} accepted`
  }
  return tool(['verify'], JSON.stringify(ev)).code === 0 || 'untampered refused'
})

// 4. Documented refusals: nostr-tools signs these, we refuse them.
check('c_refuses_nul_and_lone_surrogates', () => {
  for (const content of ['a\u0000b', 'x\ud800y', '\udc00']) {
    const ev = finalizeEvent({ kind: 1, created_at: 1700000000, content, tags: [] }, sk)
    if (!verifyEvent(ev)) return 'nostr-tools itself failed'
    const v = tool(['verify'], JSON.stringify(ev))
    if (v.code !== 1) return `accepted ${JSON.stringify(content)}`
  }
  return true
})

// NIP-19: our npub/nsec match nostr-tools', and our parser takes theirs.
check('nip19_both_ways', () => {
  for (let i = 0; i < 5; i++) {
    const k = generateSecretKey()
    const r = tool(['nip19', bytesToHex(k)], '')
    if (r.code !== 0) return `nip19 exit ${r.code}`
    const [npub, nsec] = r.out.trim().split('\n')
    if (npub !== nip19.npubEncode(getPublicKey(k))) return `npub ${npub} differs`
    if (nsec !== nip19.nsecEncode(k)) return 'nsec differs'
    const p = tool(['pubkey', nip19.nsecEncode(k)], '')
    if (p.code !== 0 || p.out.trim() !== getPublicKey(k)) return 'nsec input not understood'
  }
  return true
})

const sk2 = generateSecretKey()
const sk2hex = bytesToHex(sk2)
const pk2 = getPublicKey(sk2)
const texts = { short: 'hello', unicode: 'é 😀 中文 \n\t"', json: JSON.stringify([['i', 'q', 'text']]), k16: 'z'.repeat(16), k10: 'x\u0001'.repeat(5000) }

// 5. NIP-04 both ways.
for (const [name, text] of Object.entries(texts)) {
  check(`nip04_nt_to_c_${name}`, () => {
    const payload = nip04.encrypt(sk, pk2, text)
    const r = tool(['nip04-decrypt', sk2hex, pk], payload)
    if (r.code !== 0) return `decrypt exit ${r.code}: ${r.err}`
    return r.out === text || 'plaintext differs'
  })
  check(`nip04_c_to_nt_${name}`, () => {
    const r = tool(['nip04-encrypt', skhex, pk2], text)
    if (r.code !== 0) return `encrypt exit ${r.code}`
    return nip04.decrypt(sk2, pk, r.out) === text || 'plaintext differs'
  })
}

// 6. NIP-44 both ways, and the conversation key agrees.
check('nip44_conversation_key', () => {
  const ck = bytesToHex(nip44.v2.utils.getConversationKey(sk, pk2))
  const r = tool(['nip44-key', sk2hex, pk], '')
  return r.out.trim() === ck || `C ${r.out.trim()} != nt ${ck}`
})
const ck = nip44.v2.utils.getConversationKey(sk, pk2)
for (const [name, text] of Object.entries({ ...texts, max65535: 'm'.repeat(65535) })) {
  check(`nip44_nt_to_c_${name}`, () => {
    const payload = nip44.v2.encrypt(text, ck)
    const r = tool(['nip44-decrypt', sk2hex, pk], payload)
    if (r.code !== 0) return `decrypt exit ${r.code}: ${r.err}`
    return r.out === text || 'plaintext differs'
  })
  check(`nip44_c_to_nt_${name}`, () => {
    const r = tool(['nip44-encrypt', skhex, pk2], text)
    if (r.code !== 0) return `encrypt exit ${r.code}`
    return nip44.v2.decrypt(r.out, ck) === text || 'plaintext differs'
  })
}

// 7. Policy: over 65535 bytes is refused both ways (vectors' rule).
check('nip44_long_messages_refused', () => {
  const text = 'L'.repeat(65536)
  const payload = nip44.v2.encrypt(text, ck)	// nostr-tools: extended prefix
  if (tool(['nip44-decrypt', sk2hex, pk], payload).code !== 1) return 'accepted a 6-byte-prefix payload'
  if (tool(['nip44-encrypt', skhex, pk2], text).code !== 1) return 'encrypted 65536 bytes'
  return true
})

process.exit(failed ? 1 : 0)
