// Raw content for the bad-input tests: `relay_raw` sends a `proto.Message` given as JSON as is
// (no content builder in between), so a test can send kinds the bridge doesn't know.
import { generateWAMessageFromContent, proto } from '@whiskeysockets/baileys'

export const register = ({ commands, requireSocket, remember, sent, me }) => {
	Object.assign(commands, {
		/** {jid, message: Message JSON}: relayMessage of exactly that content; → {key, ...}. */
		relay_raw: async ({ jid, message: value }) => {
			const message = generateWAMessageFromContent(jid, proto.Message.fromObject(value), { userJid: me().id })
			await requireSocket().relayMessage(jid, message.message, { messageId: message.key.id })
			remember(message)
			return sent(message)
		}
	})
}
