// Media the bridge tests (tests/e2e/test_bridging_media.py) need beyond peer_media.mjs: a text
// with a link preview carrying a thumbnail (Baileys would fetch the page itself otherwise), and
// a media message uploaded first and sent later, so a test can expire its file in between.
import { generateWAMessageFromContent, prepareWAMessageMedia } from '@whiskeysockets/baileys'
import pino from 'pino'

const logger = pino({ level: 'silent' })
const FIELDS = { image: 'imageMessage', video: 'videoMessage', document: 'documentMessage' }

export const register = ({ commands, requireSocket, sent }) => {
	/** {jid, text, url, title?, description?, thumbnail (base64)?}: a text whose preview is given
	 * (`linkPreview`), with the thumbnail inline as WhatsApp's apps send small ones. */
	commands.send_link_preview = async ({ jid, text, url, title, description, thumbnail }) => {
		const linkPreview = {
			'canonical-url': url,
			'matched-text': url,
			title: title ?? '',
			description,
			jpegThumbnail: thumbnail ? Buffer.from(thumbnail, 'base64') : undefined
		}
		return sent(await requireSocket().sendMessage(jid, { text, linkPreview }))
	}

	/** {jid, kind: image|video|audio|document|sticker, data (base64), fields}: sendMessage with
	 * `{[kind]: data, ...fields}`, so a test declares what WhatsApp's apps would (width, height,
	 * seconds, ptt, waveform, gifPlayback, fileName, mimetype, caption); `jpegThumbnail` and
	 * `waveform` are base64. → {key, messageTimestamp, message}. */
	commands.send_media_declared = async ({ jid, kind, data, fields = {} }) => {
		const content = { [kind]: Buffer.from(data, 'base64'), ...fields }
		for (const name of ['jpegThumbnail', 'waveform']) {
			if (typeof fields[name] === 'string') content[name] = Buffer.from(fields[name], 'base64')
		}
		if ((kind === 'image' || kind === 'video') && !content.jpegThumbnail) content.jpegThumbnail = Buffer.alloc(0)
		return sent(await requireSocket().sendMessage(jid, content))
	}

	const prepared = new Map()
	/** {kind: image|video|document, data (base64), mimetype?, caption?}: encrypt and upload now,
	 * send later with media_send_prepared; → {handle, direct_path}. */
	commands.media_prepare = async ({ kind, data, mimetype, caption }) => {
		const sock = requireSocket()
		if (!FIELDS[kind]) throw new Error(`media_prepare: unknown kind ${kind}`)
		const media = { [kind]: Buffer.from(data, 'base64'), mimetype, caption }
		if (kind !== 'document') media.jpegThumbnail = Buffer.alloc(0)
		const message = await prepareWAMessageMedia(media, { upload: sock.waUploadToServer, logger })
		const handle = `prepared-${prepared.size + 1}`
		prepared.set(handle, message)
		return { handle, direct_path: message[FIELDS[kind]].directPath }
	}
	/** {jid, handle}: send a message prepared by media_prepare → {key, messageTimestamp, message}. */
	commands.media_send_prepared = async ({ jid, handle }) => {
		const sock = requireSocket()
		const content = prepared.get(handle)
		if (!content) throw new Error(`media_send_prepared: unknown handle ${handle}`)
		const message = generateWAMessageFromContent(jid, content, { userJid: sock.user.id })
		await sock.relayMessage(jid, message.message, { messageId: message.key.id })
		return sent(message)
	}
}
