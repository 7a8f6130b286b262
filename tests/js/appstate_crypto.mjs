// App-state crypto interop harness: Baileys' chat-utils (encodeSyncdPatch, decodePatches) and
// whatsapp-rust-bridge (LTHashAntiTampering, expandAppStateKeys), the code our interop
// counterpart runs.
//
// Reads one JSON object on stdin and writes one JSON object on stdout:
//   in:  {"key": {"id": hex, "data": hex},
//         "lthash": [{"base": hex, "sub": [hex], "add": [hex]}],
//         "expand": [hex],
//         "encode": [{"jid": str, "mod": object}],          (chatModify-style modifications)
//         "decode": [{"name": str, "patch": hex}]}          (SyncdPatch bytes, version set)
//   out: {"lthash": [hex], "expand": [{index, valueEncryption, valueMac, snapshotMac, patchMac}],
//         "encode": [{"name": str, "patch": hex, "hash": hex}],
//         "decode": {"warnings": [str], "mutations": [{"name", "index": [str], "value": hex}],
//                    "hashes": {name: hex}, "versions": {name: int}}}
// Patches are encoded in order, each on its collection's state so far; decoded the same way,
// with MAC validation on and every warning Baileys logs reported back.
import { decodePatches, encodeSyncdPatch, chatModificationToAppPatch, newLTHashState, proto } from '@whiskeysockets/baileys'
import { LTHashAntiTampering, expandAppStateKeys } from 'whatsapp-rust-bridge'

const hex = (buf) => Buffer.from(buf).toString('hex')
const unhex = (str) => Buffer.from(str, 'hex')

const chunks = []
for await (const chunk of process.stdin) chunks.push(chunk)
const req = JSON.parse(Buffer.concat(chunks).toString())

const keyId64 = unhex(req.key.id).toString('base64')
const getKey = async (id) => (id === keyId64 ? { keyData: unhex(req.key.data) } : undefined)

const lt = new LTHashAntiTampering()
const out = {}
out.lthash = (req.lthash || []).map(({ base, sub, add }) =>
	hex(lt.subtractThenAdd(unhex(base), sub.map(unhex), add.map(unhex))))
out.expand = (req.expand || []).map((data) => {
	const k = expandAppStateKeys(unhex(data))
	return {
		index: hex(k.indexKey),
		valueEncryption: hex(k.valueEncryptionKey),
		valueMac: hex(k.valueMacKey),
		snapshotMac: hex(k.snapshotMacKey),
		patchMac: hex(k.patchMacKey)
	}
})

const encStates = {}
out.encode = []
for (const { jid, mod } of req.encode || []) {
	const appPatch = chatModificationToAppPatch(mod, jid)
	const state = encStates[appPatch.type] || newLTHashState()
	const { patch, state: next } = await encodeSyncdPatch(appPatch, keyId64, state, getKey)
	encStates[appPatch.type] = next
	patch.version = { version: next.version }
	out.encode.push({
		name: appPatch.type,
		patch: hex(proto.SyncdPatch.encode(patch).finish()),
		hash: hex(next.hash)
	})
}

const warnings = []
const logger = {
	warn: (obj, msg) => warnings.push(`${msg} ${JSON.stringify(obj)}`),
	trace: () => {}, debug: () => {}, info: () => {}, error: (obj, msg) => warnings.push(`${msg}`)
}
const decStates = {}
const mutations = []
for (const { name, patch } of req.decode || []) {
	const syncd = proto.SyncdPatch.decode(unhex(patch))
	const expected = syncd.mutations.length
	const { state, mutationMap } = await decodePatches(
		name, [syncd], decStates[name] || newLTHashState(), getKey, {}, undefined, logger, true)
	decStates[name] = state
	const decoded = Object.values(mutationMap)
	if (decoded.length !== expected) warnings.push(`${name}: ${decoded.length}/${expected} mutations decoded`)
	for (const m of decoded) {
		mutations.push({
			name,
			index: m.index,
			value: hex(proto.SyncActionValue.encode(m.syncAction.value).finish())
		})
	}
}
out.decode = {
	warnings,
	mutations,
	hashes: Object.fromEntries(Object.entries(decStates).map(([k, v]) => [k, hex(v.hash)])),
	versions: Object.fromEntries(Object.entries(decStates).map(([k, v]) => [k, v.version]))
}
process.stdout.write(JSON.stringify(out))
