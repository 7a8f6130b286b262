// Baileys' Signal group cipher (sender keys, on libsignal-node) behind a JSON-lines pipe.
//
// One request per stdin line, one answer per stdout line, in order:
//   {"op": "create",  "party", "group", "name", "device"}             -> {"skdm"}
//   {"op": "process", "party", "group", "name", "device", "skdm"}     -> {}
//   {"op": "encrypt", "party", "group", "name", "device", "plaintexts": [b64], "pad"?}
//        -> {"ciphertexts"}
//   {"op": "decrypt", "party", "group", "name", "device", "ciphertexts": [b64], "unpad"?}
//        -> {"results": [{"plaintext": b64} | {"error": text}]}
// With "pad"/"unpad" Baileys adds/strips WhatsApp's plaintext padding as it does for messages.
//   {"op": "skip", "party", "group", "name", "device", "count"}      -> {"iteration"}
//        (moves a sender's own chain on without sending: a sender whose messages were lost)
//   {"op": "bench", "count", "size"} -> {"encrypt_seconds", "decrypt_seconds"}
// Every answer carries "ok": true, or "ok": false and "error". Binary values are base64.
// "party" names a separate in-memory sender-key store (one per simulated device).
import { createInterface } from 'node:readline'
import { randomBytes } from 'node:crypto'
import { ProtocolAddress } from 'libsignal'
import {
	GroupCipher,
	GroupSessionBuilder,
	SenderKeyDistributionMessage,
	SenderKeyName,
	SenderKeyRecord
} from '@whiskeysockets/baileys/lib/Signal/Group/index.js'
import { unpadRandomMax16, writeRandomPadMax16 } from '@whiskeysockets/baileys/lib/Utils/generics.js'

const parties = new Map()

// The store Baileys' group cipher expects: records by SenderKeyName string, a fresh empty record
// for an unknown name. With `persist` it keeps them the way Baileys' own signal storage does
// (src/Signal/libsignal.ts: JSON of record.serialize()), which the benchmark uses so Baileys pays
// for its storage format as we pay for ours. The interop parties keep live objects instead:
// Baileys' JSON round trip leaves skipped message keys' seeds as {type: 'Buffer', data: [...]}
// objects, and decrypting an out-of-order message with such a key then fails in libsignal's
// deriveSecrets ("Expected Buffer instead of: Object").
function storeFor(party, persist = false) {
	let records = parties.get(party)
	if (!records) {
		records = new Map()
		parties.set(party, records)
	}
	return {
		async loadSenderKey(name) {
			const data = records.get(name.toString())
			if (!data) return new SenderKeyRecord()
			return persist ? SenderKeyRecord.deserialize(data) : data
		},
		async storeSenderKey(name, record) {
			const data = persist ? Buffer.from(JSON.stringify(record.serialize()), 'utf-8') : record
			records.set(name.toString(), data)
		}
	}
}

const b64 = buf => Buffer.from(buf).toString('base64')
const unb64 = text => Buffer.from(text, 'base64')
const keyName = req => new SenderKeyName(req.group, new ProtocolAddress(req.name, req.device))

async function bench(count, size) {
	const group = 'bench@g.us'
	const name = new SenderKeyName(group, new ProtocolAddress('1000', 0))
	const senderStore = storeFor('bench-sender-' + Math.random(), true)
	const receiverStore = storeFor('bench-receiver-' + Math.random(), true)
	const skdm = await new GroupSessionBuilder(senderStore).create(name)
	await new GroupSessionBuilder(receiverStore).process(name, skdm)
	const sender = new GroupCipher(senderStore, name)
	const receiver = new GroupCipher(receiverStore, name)
	const plaintext = randomBytes(size)
	const ciphertexts = []
	let start = process.hrtime.bigint()
	for (let i = 0; i < count; i++) {
		ciphertexts.push(await sender.encrypt(plaintext))
	}
	const encryptSeconds = Number(process.hrtime.bigint() - start) / 1e9
	start = process.hrtime.bigint()
	for (const ciphertext of ciphertexts) {
		const result = await receiver.decrypt(ciphertext)
		if (!plaintext.equals(result)) throw new Error('bench round trip mismatch')
	}
	const decryptSeconds = Number(process.hrtime.bigint() - start) / 1e9
	return { encrypt_seconds: encryptSeconds, decrypt_seconds: decryptSeconds }
}

async function handle(req) {
	switch (req.op) {
		case 'create': {
			const skdm = await new GroupSessionBuilder(storeFor(req.party)).create(keyName(req))
			return { skdm: b64(skdm.serialize()) }
		}
		case 'process': {
			const skdm = new SenderKeyDistributionMessage(null, null, null, null, unb64(req.skdm))
			await new GroupSessionBuilder(storeFor(req.party)).process(keyName(req), skdm)
			return {}
		}
		case 'encrypt': {
			const cipher = new GroupCipher(storeFor(req.party), keyName(req))
			const ciphertexts = []
			for (const plaintext of req.plaintexts) {
				const data = req.pad ? writeRandomPadMax16(unb64(plaintext)) : unb64(plaintext)
				ciphertexts.push(b64(await cipher.encrypt(data)))
			}
			return { ciphertexts }
		}
		case 'decrypt': {
			const cipher = new GroupCipher(storeFor(req.party), keyName(req))
			const results = []
			for (const ciphertext of req.ciphertexts) {
				try {
					const data = await cipher.decrypt(unb64(ciphertext))
					results.push({ plaintext: b64(req.unpad ? unpadRandomMax16(data) : data) })
				} catch (error) {
					results.push({ error: String(error?.message ?? error) })
				}
			}
			return { results }
		}
		case 'skip': {
			const store = storeFor(req.party)
			const name = keyName(req)
			const record = await store.loadSenderKey(name)
			const state = record.getSenderKeyState()
			let chain = state.getSenderChainKey()
			for (let i = 0; i < req.count; i++) chain = chain.getNext()
			state.setSenderChainKey(chain)
			await store.storeSenderKey(name, record)
			return { iteration: chain.getIteration() }
		}
		case 'bench':
			return bench(req.count, req.size)
		default:
			throw new Error(`unknown op ${req.op}`)
	}
}

const lines = createInterface({ input: process.stdin, terminal: false })
for await (const line of lines) {
	if (!line.trim()) continue
	let answer
	try {
		answer = { ok: true, ...(await handle(JSON.parse(line))) }
	} catch (error) {
		answer = { ok: false, error: String(error?.stack ?? error) }
	}
	process.stdout.write(JSON.stringify(answer) + '\n')
}
