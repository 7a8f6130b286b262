// App-state checker: Baileys' own decoders (7.0.0-rc14, MAC checks on) read what the simulator's
// phone encoded. stdin: one JSON document {key_id, key_data (base64), collections: {name:
// {patches: [base64 SyncdPatch]}}, snapshots: {name: base64 SyncdSnapshot}}. stdout: one JSON
// document {patches: {name: {version, hash, mutations: [[index, value]]}}, snapshots: {name:
// {version, hash, mutations}}, warnings: [text]} — hashes in base64.
import { proto, decodePatches, decodeSyncdSnapshot, newLTHashState } from '@whiskeysockets/baileys'

let input = ''
for await (const chunk of process.stdin) input += chunk
const job = JSON.parse(input)
const warnings = []
const logger = {
	warn: (data, message) => warnings.push(`${message}: ${JSON.stringify(data)}`),
	trace() {},
	debug() {},
	info() {}
}
const getKey = async id => (id === job.key_id ? { keyData: Buffer.from(job.key_data, 'base64') } : undefined)
const plain = value => JSON.parse(JSON.stringify(proto.SyncActionValue.toObject(value, { longs: Number })))
const summary = ({ state, mutationMap }) => ({
	version: state.version,
	hash: Buffer.from(state.hash).toString('base64'),
	mutations: Object.values(mutationMap).map(m => [m.index, plain(m.syncAction.value)])
})
const out = { patches: {}, snapshots: {}, warnings }
for (const [name, { patches }] of Object.entries(job.collections ?? {})) {
	const decoded = patches.map(p => proto.SyncdPatch.decode(Buffer.from(p, 'base64')))
	out.patches[name] = summary(await decodePatches(name, decoded, newLTHashState(), getKey, {}, undefined, logger, true))
}
for (const [name, snapshot] of Object.entries(job.snapshots ?? {})) {
	const decoded = proto.SyncdSnapshot.decode(Buffer.from(snapshot, 'base64'))
	out.snapshots[name] = summary(await decodeSyncdSnapshot(name, decoded, getKey, undefined, true, logger))
}
process.stdout.write(JSON.stringify(out) + '\n')
