// Connect Baileys to a WhatsApp server (the simulator) as a new device and print its first QR.
//
//   node baileys_qr.mjs --url ws://127.0.0.1:PORT/ws/chat --root-key HEX [--timeout-ms N] [--hold]
//
// Prints JSON lines on stdout. The first is {"qr": "..."} on success, or {"error": "..."} when the
// connection closes first (exit 1) or nothing happens in time (exit 2). Without --hold it exits 0
// right after the QR; with --hold it stays connected, printing later connection updates as
// {"update": {...}}, until stdin closes, then exits 0. For wss, run node with
// NODE_EXTRA_CA_CERTS=<the simulator's CA file>.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { useMultiFileAuthState } from '@whiskeysockets/baileys'
import { isRootKey, makeSimulatorSocket, printLine as print, trustRootKey } from './simulator_socket.mjs'

const { values: args } = parseArgs({
	options: {
		url: { type: 'string' },
		'root-key': { type: 'string' },
		'timeout-ms': { type: 'string', default: '20000' },
		hold: { type: 'boolean', default: false }
	}
})
if (!args.url || !isRootKey(args['root-key'])) {
	console.error('usage: node baileys_qr.mjs --url WS_URL --root-key HEX64 [--timeout-ms N] [--hold]')
	process.exit(64)
}

trustRootKey(args['root-key'])

const authDir = await mkdtemp(join(tmpdir(), 'baileys-qr-'))
let sock
let finished = false
const finish = async (result, code) => {
	if (finished) return
	finished = true
	clearTimeout(timer)
	try {
		sock?.ev.removeAllListeners('connection.update')
		sock?.end(undefined)
	} catch {
		// already closed
	}
	await rm(authDir, { recursive: true, force: true })
	if (result) await print(result)
	process.exit(code)
}
const timer = setTimeout(
	() => finish({ error: `no QR within ${args['timeout-ms']} ms` }, 2),
	Number(args['timeout-ms'])
)

const { state } = await useMultiFileAuthState(authDir)
sock = makeSimulatorSocket(args.url, state)

let qrSeen = false
sock.ev.on('connection.update', async update => {
	if (qrSeen) {
		const error = update.lastDisconnect?.error
		await print({ update: { ...update, lastDisconnect: error ? String(error.message ?? error) : undefined } })
		return
	}
	if (update.qr) {
		qrSeen = true
		clearTimeout(timer)
		if (!args.hold) {
			await finish({ qr: update.qr }, 0)
			return
		}
		await print({ qr: update.qr })
		process.stdin.resume()
		process.stdin.on('end', () => finish(null, 0))
	} else if (update.connection === 'close') {
		const error = update.lastDisconnect?.error
		await finish({ error: `connection closed before a QR: ${error?.message ?? error}` }, 1)
	}
})
