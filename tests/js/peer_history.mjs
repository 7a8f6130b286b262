// History sync as Baileys takes it in: every `messaging-history.set` (chats, messages, contacts,
// LID mappings, progress, syncType, chunkOrder, peerDataRequestSessionId) and
// `messaging-history.status` event is forwarded as one JSON line, and `fetch_history` asks the
// phone for older messages of a chat (Baileys' `fetchMessageHistory`, a peer data operation).
//
// Baileys downloads history blobs from `https://mmg.whatsapp.net<directPath>` (its default media
// host: a history notification carries no URL and the peer has not fetched `media_conn` yet when
// the first syncs arrive). As DNS would for a real WhatsApp, that host leads to the simulator
// here: the peer's fetch dispatcher connects it to the simulator's own host and port (TLS for a
// `wss://` simulator, plain TCP for a `ws://` one); every other host is connected as usual.
import net from 'node:net'
import tls from 'node:tls'

const MEDIA_HOSTS = new Set(['mmg.whatsapp.net'])
const GLOBAL_DISPATCHER = Symbol.for('undici.globalDispatcher.1')

const simulatorAddress = () => {
	const url = new URL(process.argv[process.argv.indexOf('--url') + 1])
	return { host: url.hostname.replace(/^\[|\]$/g, ''), port: Number(url.port), secure: url.protocol === 'wss:' }
}

const connectTo = ({ host, port, secure, servername }, callback) => {
	const socket = secure
		? tls.connect({ host, port, servername: net.isIP(host) ? undefined : servername || host, ALPNProtocols: ['http/1.1'] })
		: net.connect({ host, port })
	const fail = error => callback(error, null)
	socket.once('error', fail)
	socket.once(secure ? 'secureConnect' : 'connect', () => {
		socket.off('error', fail)
		callback(null, socket)
	})
	return socket
}

/** Replace Node's global fetch dispatcher by one of the same class (undici's Agent, which Node
 * does not export) whose connections to the media host go to the simulator. */
const routeMediaHostToSimulator = async () => {
	await fetch('data:,') // makes Node create its global dispatcher
	const Agent = globalThis[GLOBAL_DISPATCHER].constructor
	const simulator = simulatorAddress()
	const connect = (opts, callback) =>
		MEDIA_HOSTS.has(opts.hostname)
			? connectTo(simulator, callback)
			: connectTo(
					{
						host: opts.hostname,
						port: Number(opts.port) || (opts.protocol === 'https:' ? 443 : 80),
						secure: opts.protocol === 'https:',
						servername: opts.servername
					},
					callback
				)
	globalThis[GLOBAL_DISPATCHER] = new Agent({ connect })
}

const long = value => (value === null || value === undefined ? null : Number(value))

const chatJson = chat => ({
	id: chat.id,
	name: chat.name ?? null,
	displayName: chat.displayName ?? null,
	unreadCount: chat.unreadCount ?? null,
	pinned: long(chat.pinned),
	archived: chat.archived ?? null,
	muteEndTime: long(chat.muteEndTime),
	lidJid: chat.lidJid ?? null,
	conversationTimestamp: long(chat.conversationTimestamp)
})

const historyMessageJson = (messageJson, message) => ({
	key: message.key,
	messageTimestamp: long(message.messageTimestamp),
	pushName: message.pushName ?? null,
	participant: message.participant ?? null,
	status: message.status ?? null,
	messageStubType: message.messageStubType ?? null,
	reactions: (message.reactions ?? []).map(r => ({ key: r.key, text: r.text })),
	message: message.message ? messageJson(message.message) : null
})

export const register = ({ commands, socketHooks, emit, messageJson, requireSocket, remember }) => {
	const routed = routeMediaHostToSimulator().catch(error => emit({ event: 'error', error: `media host routing: ${error}` }))
	socketHooks.push(() => void routed)
	socketHooks.push(sock => {
		sock.ev.on('messaging-history.set', data => {
			for (const message of data.messages ?? []) remember(message) // for media_download etc.
			void emit({
				event: 'messaging-history.set',
				syncType: data.syncType ?? null,
				progress: data.progress ?? null,
				chunkOrder: data.chunkOrder ?? null,
				isLatest: data.isLatest ?? null,
				peerDataRequestSessionId: data.peerDataRequestSessionId ?? null,
				chats: (data.chats ?? []).map(chatJson),
				messages: (data.messages ?? []).map(m => historyMessageJson(messageJson, m)),
				contacts: data.contacts ?? [],
				lidPnMappings: data.lidPnMappings ?? []
			})
		})
		sock.ev.on('messaging-history.status', status => void emit({ event: 'messaging-history.status', ...status }))
	})
	Object.assign(commands, {
		/** Ask the phone for `count` messages older than `key` (sent at `timestamp`, seconds);
		 * answers the request's message id, which the ON_DEMAND sync carries back. */
		fetch_history: async ({ count, key, timestamp }) =>
			requireSocket().fetchMessageHistory(count, key, timestamp),
		/** The LID user Baileys stored for each PN user (`null` if none): what it learnt from
		 * history syncs, read from its key store (not through `getLIDForPN`, which would ask the
		 * server for a missing one). */
		stored_lids: async ({ users }) => {
			const stored = await requireSocket().signalRepository.lidMapping.keys.get('lid-mapping', users)
			return Object.fromEntries(users.map(user => [user, stored[user] ?? null]))
		}
	})
}
