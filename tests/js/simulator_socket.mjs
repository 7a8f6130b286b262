// What the Baileys harnesses share: a Baileys socket pointed at the simulator, and JSON-line output.
//
// Import it from a harness in this folder (`import { ... } from './simulator_socket.mjs'`).
import pino from 'pino'
import makeWASocket, { DEFAULT_CONNECTION_CONFIG, WA_CERT_DETAILS } from '@whiskeysockets/baileys'

/** A 64-digit hex string: the simulator's root public key as the harnesses take it. */
export const isRootKey = value => /^[0-9a-f]{64}$/i.test(value ?? '')

/** Trust the simulator's root instead of WhatsApp's, as a Baileys that checked signatures would need. */
export const trustRootKey = hex => {
	WA_CERT_DETAILS.PUBLIC_KEY = Buffer.from(hex, 'hex')
}

/** Print one JSON line on stdout; resolves once it is written (so process.exit cannot cut it). */
export const printLine = value =>
	new Promise(resolve => process.stdout.write(JSON.stringify(value) + '\n', resolve))

/** WhatsApp's default media host: Baileys downloads there what it gets no host for (app-state
 * snapshots, history sync blobs: `getUrlFromDirectPath` without a host). */
const DEFAULT_MEDIA_ORIGIN = 'https://mmg.whatsapp.net'

/** A fetch dispatcher that sends requests for the default media host to the simulator behind
 * `url` (which serves WhatsApp's CDN too), as DNS would, and everything else on unchanged. */
export const simulatorMediaDispatcher = url => {
	const { protocol, host } = new URL(url)
	const origin = `${protocol === 'wss:' ? 'https:' : 'http:'}//${host}`
	return {
		dispatch(options, handler) {
			// node's own undici agent, created when fetch first loads (so there by now).
			const agent = globalThis[Symbol.for('undici.globalDispatcher.1')]
			if (!agent) throw new Error('no global fetch dispatcher')
			const target = String(options.origin) === DEFAULT_MEDIA_ORIGIN ? { ...options, origin } : options
			return agent.dispatch(target, handler)
		}
	}
}

/** The 1:1 session operations of Baileys' Signal repository (each reads and writes sessions). */
const SESSION_OPERATIONS = ['decryptMessage', 'encryptMessage', 'injectE2ESession', 'deleteSession', 'migrateSession']

/** Baileys' Signal repository with every 1:1 session operation in one transaction lane.
 *
 * Baileys 7.0.0-rc14 runs each operation in a key-store transaction (keys read once, all
 * written back at the end), serialized per transaction key: a send (relayMessage) under our own
 * JID, a decryption under the sender's. A decryption overlapping a send to the same device starts
 * from the same session record, and the later commit undoes the other's ratchet step: after a
 * lost send step the next message reuses a message key, which the receiver must drop as
 * already used. Here each session operation takes the send's key too (inside a transaction
 * Baileys joins it), so one operation at a time reads and writes the sessions. (The same
 * kind of lost update between a contact's PN and LID keys: WhiskeySockets/Baileys pull 2372.) */
const serializedSignalRepository = (auth, ...rest) => {
	const repository = DEFAULT_CONNECTION_CONFIG.makeSignalRepository(auth, ...rest)
	for (const name of SESSION_OPERATIONS) {
		const operation = repository[name]
		repository[name] = (...args) =>
			auth.keys.transaction(() => operation(...args), auth.creds.me?.id ?? 'signal-sessions')
	}
	return repository
}

/** A quiet Baileys socket with short timeouts, connecting to `url` with the given auth state;
 * `extra` adds or overrides socket options (e.g. `getMessage` for retries and polls). */
export const makeSimulatorSocket = (url, auth, extra = {}) =>
	makeWASocket({
		auth,
		waWebSocketUrl: url,
		logger: pino({ level: 'silent' }),
		printQRInTerminal: false,
		markOnlineOnConnect: false,
		defaultQueryTimeoutMs: 5000,
		connectTimeoutMs: 10000,
		// Check every app-state MAC (Baileys skips them by default): the simulator's patches and
		// snapshots, and ours, are then proven by a client we did not write.
		appStateMacVerification: { patch: true, snapshot: true },
		options: { dispatcher: simulatorMediaDispatcher(url) },
		makeSignalRepository: serializedSignalRepository,
		...extra
	})
