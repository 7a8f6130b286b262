// Link Baileys to the simulator by QR and log in, the way an application does, with saved creds.
//
//   node baileys_link.mjs --url WS_URL --root-key HEX64 --auth DIR [--phone DIGITS] [--timeout-ms N]
//
// With --phone it links by pairing code instead: at the first QR it asks for a code and prints
// {"code": "XXXXXXXX"} (enter it with /admin/mock-phone/enter-code); QR codes are not printed.
// Prints JSON lines: {"qr": "..."} for each QR (post it to /admin/mock-phone/scan-qr),
// {"restart": 515} when the server asks for the post-pairing restart (a new socket is made, as
// Baileys' docs tell applications to), then {"open": {"id": ..., "lid": ...}} once the connection
// is open, and exits 0 after saving the credentials. With saved credentials in DIR it logs in
// without a QR. Any other close prints {"closed": CODE, "error": "..."} and exits 1; a timeout 2.
import { parseArgs } from 'node:util'
import { DisconnectReason, useMultiFileAuthState } from '@whiskeysockets/baileys'
import { isRootKey, makeSimulatorSocket, printLine as print, trustRootKey } from './simulator_socket.mjs'

const { values: args } = parseArgs({
	options: {
		url: { type: 'string' },
		'root-key': { type: 'string' },
		auth: { type: 'string' },
		phone: { type: 'string' },
		'timeout-ms': { type: 'string', default: '30000' }
	}
})
if (!args.url || !args.auth || !isRootKey(args['root-key'])) {
	console.error('usage: node baileys_link.mjs --url WS_URL --root-key HEX64 --auth DIR')
	process.exit(64)
}
trustRootKey(args['root-key'])

const { state, saveCreds } = await useMultiFileAuthState(args.auth)
let sock
let codeRequested = false
const timer = setTimeout(async () => {
	await print({ error: `not open within ${args['timeout-ms']} ms` })
	process.exit(2)
}, Number(args['timeout-ms']))

const start = () => {
	sock = makeSimulatorSocket(args.url, state)
	sock.ev.on('creds.update', saveCreds)
	sock.ev.on('connection.update', async update => {
		if (update.qr && args.phone) {
			if (!codeRequested) {
				codeRequested = true
				await print({ code: await sock.requestPairingCode(args.phone) })
			}
		} else if (update.qr) {
			await print({ qr: update.qr })
		}
		if (update.connection === 'open') {
			clearTimeout(timer)
			// Stop background saves (the phone's history sync updates creds right after login):
			// exiting in the middle of one would leave a truncated creds file.
			sock.ev.off('creds.update', saveCreds)
			await saveCreds()
			await print({ open: { id: state.creds.me?.id, lid: state.creds.me?.lid } })
			sock.ev.removeAllListeners('connection.update')
			sock.end(undefined)
			process.exit(0)
		} else if (update.connection === 'close') {
			const error = update.lastDisconnect?.error
			const code = error?.output?.statusCode
			if (code === DisconnectReason.restartRequired) {
				await print({ restart: code })
				start()
				return
			}
			clearTimeout(timer)
			await print({ closed: code ?? null, error: String(error?.message ?? error) })
			process.exit(1)
		}
	})
}
start()
