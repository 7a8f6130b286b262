// libsignal-node 6.0.0's 1:1 session cipher behind a JSON-lines pipe.
//
// One request per stdin line, one answer per stdout line, in order. A "party" is one simulated
// device with its own in-memory store (identity, registration id, pre-keys, sessions):
//   {"op": "init", "party", "prekeys": n, "prekey": bool} -> {"bundle"}
//        (a new identity, signed pre-key 1 and pre-keys 1..n; replaces the party if it exists)
//   {"op": "bundle", "party", "prekey": bool} -> {"bundle"}   (a bundle using one unused pre-key)
//   {"op": "process_bundle", "party", "name", "device", "bundle"} -> {}
//   {"op": "encrypt", "party", "name", "device", "plaintexts": [b64]}
//        -> {"messages": [{"type": "pkmsg"|"msg", "body": b64}]}
//   {"op": "decrypt", "party", "name", "device", "messages": [{"type", "body"}]}
//        -> {"results": [{"plaintext": b64} | {"error": name, "message": text}]}
//   {"op": "close_session", "party", "name", "device"} -> {}
//   {"op": "forget_sessions", "party"} -> {}  (drop every session record: a reinstalled peer)
//   {"op": "removed_prekeys", "party"} -> {"ids"}  (one-time pre-keys consumed so far)
//   {"op": "bench", "count", "size"} -> {"encrypt_seconds", "decrypt_seconds"}
// A bundle is {"registrationId", "identityKey", "signedPreKey": {"keyId", "publicKey",
// "signature"}, "preKey": {"keyId", "publicKey"} | null}, keys 33-byte base64 as libsignal uses.
// Every answer carries "ok": true, or "ok": false and "error".
// Sessions are stored serialized (SessionRecord.serialize()), as Baileys stores them.
import { createInterface } from 'node:readline'
import { randomBytes } from 'node:crypto'
import {
	keyhelper,
	ProtocolAddress,
	SessionBuilder,
	SessionCipher,
	SessionRecord
} from 'libsignal'

// libsignal logs with console.info/warn; stdout is our protocol channel.
for (const level of ['log', 'info', 'warn', 'error', 'debug']) {
	console[level] = (...args) => process.stderr.write(args.map(String).join(' ') + '\n')
}

const b64 = buf => Buffer.from(buf).toString('base64')
const unb64 = text => Buffer.from(text, 'base64')

class Party {
	constructor(preKeyCount) {
		this.identity = keyhelper.generateIdentityKeyPair()
		this.registrationId = keyhelper.generateRegistrationId()
		this.signedPreKey = keyhelper.generateSignedPreKey(this.identity, 1)
		this.preKeys = new Map()
		this.unusedPreKeys = []
		for (let id = 1; id <= preKeyCount; id++) {
			this.preKeys.set(id, keyhelper.generatePreKey(id).keyPair)
			this.unusedPreKeys.push(id)
		}
		this.sessions = new Map()
		this.removedPreKeys = []
	}

	bundle(withPreKey) {
		const bundle = {
			registrationId: this.registrationId,
			identityKey: this.identity.pubKey,
			signedPreKey: {
				keyId: this.signedPreKey.keyId,
				publicKey: this.signedPreKey.keyPair.pubKey,
				signature: this.signedPreKey.signature
			},
			preKey: null
		}
		if (withPreKey) {
			const id = this.unusedPreKeys.shift()
			if (id === undefined) throw new Error('out of pre-keys')
			bundle.preKey = { keyId: id, publicKey: this.preKeys.get(id).pubKey }
		}
		return bundle
	}

	// The storage interface libsignal-node's SessionBuilder and SessionCipher call.
	async getOurIdentity() {
		return this.identity
	}
	async getOurRegistrationId() {
		return this.registrationId
	}
	async isTrustedIdentity() {
		return true // as Baileys: identity changes are handled above the Signal layer
	}
	async loadSession(addr) {
		const data = this.sessions.get(addr)
		return data ? SessionRecord.deserialize(JSON.parse(data)) : undefined
	}
	async storeSession(addr, record) {
		this.sessions.set(addr, JSON.stringify(record.serialize()))
	}
	async loadPreKey(id) {
		return this.preKeys.get(id)
	}
	async removePreKey(id) {
		this.preKeys.delete(id)
		this.removedPreKeys.push(id)
	}
	async loadSignedPreKey(id) {
		return id === this.signedPreKey.keyId ? this.signedPreKey.keyPair : undefined
	}
}

const parties = new Map()

function party(name) {
	const p = parties.get(name)
	if (!p) throw new Error(`unknown party ${name}`)
	return p
}

function encodeBundle(bundle) {
	return {
		registrationId: bundle.registrationId,
		identityKey: b64(bundle.identityKey),
		signedPreKey: {
			keyId: bundle.signedPreKey.keyId,
			publicKey: b64(bundle.signedPreKey.publicKey),
			signature: b64(bundle.signedPreKey.signature)
		},
		preKey: bundle.preKey && { keyId: bundle.preKey.keyId, publicKey: b64(bundle.preKey.publicKey) }
	}
}

function decodeBundle(bundle) {
	return {
		registrationId: bundle.registrationId,
		identityKey: unb64(bundle.identityKey),
		signedPreKey: {
			keyId: bundle.signedPreKey.keyId,
			publicKey: unb64(bundle.signedPreKey.publicKey),
			signature: unb64(bundle.signedPreKey.signature)
		},
		preKey: bundle.preKey
			? { keyId: bundle.preKey.keyId, publicKey: unb64(bundle.preKey.publicKey) }
			: undefined
	}
}

async function encrypt(cipher, plaintext) {
	const { type, body } = await cipher.encrypt(plaintext)
	return { type: type === 3 ? 'pkmsg' : 'msg', body: Buffer.from(body, 'binary') }
}

async function decrypt(cipher, type, body) {
	return type === 'pkmsg'
		? cipher.decryptPreKeyWhisperMessage(body)
		: cipher.decryptWhisperMessage(body)
}

async function bench(count, size) {
	const alice = new Party(1)
	const bob = new Party(1)
	const aliceAddr = new ProtocolAddress('1000', 0)
	const bobAddr = new ProtocolAddress('2000', 0)
	await new SessionBuilder(alice, bobAddr).initOutgoing(decodeBundle(encodeBundle(bob.bundle(true))))
	const sender = new SessionCipher(alice, bobAddr)
	const receiver = new SessionCipher(bob, aliceAddr)
	// Settle the session (answer the pkmsg) so the loop measures steady-state "msg" traffic.
	const first = await encrypt(sender, Buffer.from('hello'))
	await decrypt(receiver, first.type, first.body)
	const reply = await encrypt(receiver, Buffer.from('hi'))
	await decrypt(sender, reply.type, reply.body)
	const plaintext = randomBytes(size)
	const messages = []
	let start = process.hrtime.bigint()
	for (let i = 0; i < count; i++) {
		messages.push(await encrypt(sender, plaintext))
	}
	const encryptSeconds = Number(process.hrtime.bigint() - start) / 1e9
	start = process.hrtime.bigint()
	for (const m of messages) {
		const out = await decrypt(receiver, m.type, m.body)
		if (!out.equals(plaintext)) throw new Error('bench plaintext mismatch')
	}
	const decryptSeconds = Number(process.hrtime.bigint() - start) / 1e9
	return { encrypt_seconds: encryptSeconds, decrypt_seconds: decryptSeconds }
}

async function handle(req) {
	switch (req.op) {
		case 'init': {
			const p = new Party(req.prekeys ?? 10)
			parties.set(req.party, p)
			return { bundle: encodeBundle(p.bundle(req.prekey ?? true)) }
		}
		case 'bundle':
			return { bundle: encodeBundle(party(req.party).bundle(req.prekey ?? true)) }
		case 'process_bundle': {
			const addr = new ProtocolAddress(req.name, req.device)
			await new SessionBuilder(party(req.party), addr).initOutgoing(decodeBundle(req.bundle))
			return {}
		}
		case 'encrypt': {
			const cipher = new SessionCipher(party(req.party), new ProtocolAddress(req.name, req.device))
			const messages = []
			for (const text of req.plaintexts) {
				const { type, body } = await encrypt(cipher, unb64(text))
				messages.push({ type, body: b64(body) })
			}
			return { messages }
		}
		case 'decrypt': {
			const cipher = new SessionCipher(party(req.party), new ProtocolAddress(req.name, req.device))
			const results = []
			for (const m of req.messages) {
				try {
					results.push({ plaintext: b64(await decrypt(cipher, m.type, unb64(m.body))) })
				} catch (e) {
					results.push({ error: e.name || 'Error', message: String(e.message) })
				}
			}
			return { results }
		}
		case 'close_session': {
			const cipher = new SessionCipher(party(req.party), new ProtocolAddress(req.name, req.device))
			await cipher.closeOpenSession()
			return {}
		}
		case 'forget_sessions':
			party(req.party).sessions.clear()
			return {}
		case 'removed_prekeys':
			return { ids: party(req.party).removedPreKeys }
		case 'bench':
			return await bench(req.count, req.size)
		default:
			throw new Error(`unknown op ${req.op}`)
	}
}

const lines = createInterface({ input: process.stdin, crlfDelay: Infinity })
for await (const line of lines) {
	if (!line.trim()) continue
	let answer
	try {
		answer = { ok: true, ...(await handle(JSON.parse(line))) }
	} catch (e) {
		answer = { ok: false, error: `${e.name}: ${e.message}` }
	}
	process.stdout.write(JSON.stringify(answer) + '\n')
}
