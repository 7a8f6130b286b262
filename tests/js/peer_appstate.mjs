// App state for the Baileys peer (tests/whatsapp/test_interop_baileys_appstate.py).
//
// Events forwarded: `chats.upsert`, `chats.update`, `contacts.upsert`, `contacts.update` (the
// mutations Baileys decoded, as `{event, data}`), and `app_state_key` `{key_id}` each time
// Baileys stores a new app-state sync key (a key share from its phone).
// Commands:
//   chat_modify {jid, mod}: sock.chatModify(mod, jid), e.g. {pin: true}, {mute: <end ms> | null},
//     {archive: true, lastMessages: []}, {markRead: false, lastMessages: []}.
//   resync_app_state {collections, initial?}: sock.resyncAppState(collections, initial).
//   app_state_key: the id (base64) of the key Baileys encrypts its patches with, or null.

export const register = ({ commands, socketHooks, emit, requireSocket }) => {
	socketHooks.push(sock => {
		for (const name of ['chats.upsert', 'chats.update', 'contacts.upsert', 'contacts.update']) {
			sock.ev.on(name, data => void emit({ event: name, data }))
		}
		sock.ev.on('creds.update', ({ myAppStateKeyId }) => {
			if (myAppStateKeyId) void emit({ event: 'app_state_key', key_id: myAppStateKeyId })
		})
	})
	commands.chat_modify = async ({ jid, mod }) => {
		await requireSocket().chatModify(mod, jid)
		return null
	}
	commands.resync_app_state = async ({ collections, initial }) => {
		await requireSocket().resyncAppState(collections, Boolean(initial))
		return null
	}
	commands.app_state_key = async () => requireSocket().authState.creds.myAppStateKeyId ?? null
}
