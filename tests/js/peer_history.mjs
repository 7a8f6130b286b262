// History sync as Baileys takes it in: every `messaging-history.set` (chats, messages, contacts,
// LID mappings, progress, syncType, chunkOrder, peerDataRequestSessionId) and
// `messaging-history.status` event is forwarded as one JSON line, and `fetch_history` asks the
// phone for older messages of a chat (Baileys' `fetchMessageHistory`, a peer data operation).
//
// Baileys downloads history blobs from `https://mmg.whatsapp.net<directPath>`; every peer socket
// routes that host to the simulator (`simulatorMediaDispatcher` in simulator_socket.mjs).

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
