// Media downloads for the simulator's media tests (tests/whatsapp/test_interop_baileys_media_sim.py).
//
// Sending needs no command: `send` with content `{image: {url: "/path"}, caption}` makes Baileys
// read, encrypt and upload the file itself.
import { createHash } from 'node:crypto'
import { downloadContentFromMessage, downloadMediaMessage, extractMessageContent, getContentType, toBuffer } from '@whiskeysockets/baileys'

const MEDIA_TYPES = { imageMessage: 'image', videoMessage: 'video', audioMessage: 'audio', documentMessage: 'document', stickerMessage: 'sticker' }

const mediaOf = message => {
	const content = extractMessageContent(message)
	const field = content && getContentType(content)
	if (!MEDIA_TYPES[field]) throw new Error(`not a media message: ${field}`)
	return { type: MEDIA_TYPES[field], media: content[field] }
}

const result = buffer => ({
	size: buffer.length,
	sha256: createHash('sha256').update(buffer).digest('base64'),
	data: buffer.length <= 1 << 20 ? buffer.toString('base64') : null
})

/** An error with its status and cause in the message (undici says only "fetch failed"). */
const explained = error =>
	new Error(`${error?.message ?? error} (status ${statusOf(error)}; cause: ${error?.cause?.message ?? error?.cause ?? 'none'})`)

/** Boom errors carry the HTTP status in output.statusCode. */
const statusOf = error => error?.output?.statusCode ?? error?.status ?? null

export const register = ({ commands, requireSocket, lookup, remember }) => {
	/** {key, via?: "message"|"url"|"direct_path", quoted?, reupload?}: download the media of a
	 * stored message (or of the message it quotes) → {size, sha256, data (base64, ≤ 1 MiB),
	 * reuploaded, direct_path}. "message" is downloadMediaMessage (directPath on the URL's
	 * host); "url" and "direct_path" call downloadContentFromMessage with only that field (the
	 * host from getMediaHost(), after refreshMediaConn). With `reupload`, a 404/410 makes the peer ask its phone to
	 * upload again (updateMediaMessage: a media-retry receipt) and download once more: Baileys'
	 * own retry in downloadMediaMessage tests `error.status`, which its Boom errors lack. */
	commands.media_download = async ({ key, via = 'message', quoted = false, reupload = false }) => {
		const socket = requireSocket()
		let stored = lookup(key)
		const target = () => {
			if (!quoted) return stored
			const content = extractMessageContent(stored.message)
			const quotedMessage = content?.[getContentType(content)]?.contextInfo?.quotedMessage
			if (!quotedMessage) throw new Error(`message ${stored.key.id} quotes nothing`)
			return { key: stored.key, message: quotedMessage }
		}
		const once = async () => {
			const message = target()
			if (via === 'message') {
				return result(Buffer.from(await downloadMediaMessage(message, 'buffer', {})))
			}
			const { type, media } = mediaOf(message.message)
			const source =
				via === 'url'
					? { url: media.url, mediaKey: media.mediaKey }
					: { directPath: media.directPath, mediaKey: media.mediaKey }
			// The media host is learnt from media_conn (mmg.whatsapp.net until then): a peer
			// that never uploaded fetches it first, as the upstream e2e client did by uploading.
			if (via === 'direct_path') await socket.refreshMediaConn(false)
			const stream = await downloadContentFromMessage(source, type, {
				host: via === 'direct_path' ? socket.getMediaHost() : undefined
			})
			return result(Buffer.from(await toBuffer(stream)))
		}
		let reuploaded = false
		let found
		try {
			found = await once()
		} catch (error) {
			if (!reupload || quoted || ![404, 410].includes(statusOf(error))) throw explained(error)
			stored = await socket.updateMediaMessage(stored)
			remember(stored)
			reuploaded = true
			found = await once().catch(again => Promise.reject(explained(again)))
		}
		if (!found) throw new Error('no media')
		return { ...found, reuploaded, direct_path: mediaOf(target().message).media.directPath }
	}
}
