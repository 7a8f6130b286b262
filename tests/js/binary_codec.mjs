// Baileys' binary node codec, driven over stdin/stdout for the codec interop tests and bench.
//
//   node binary_codec.mjs            stdin: {"encode": [node...], "decode": [hex...]}
//                                    stdout: {"encoded": [hex...], "decoded": [node...],
//                                             "tokens": {"single": [...], "double": [[...]...]}}
//   node binary_codec.mjs bench N [R] stdin: one node; stdout: {"marshal_per_s", "unmarshal_per_s"}
//                                    (best of R rounds of N iterations each)
//
// Node JSON: {"tag": str, "attrs": {str: str}, "content": null | [node...] |
//             {"bytes": base64} | {"string": str}}. Encode errors come back as {"error": msg}.
import { decodeBinaryNode, encodeBinaryNode } from '@whiskeysockets/baileys'
import {
	DOUBLE_BYTE_TOKENS,
	SINGLE_BYTE_TOKENS
} from '@whiskeysockets/baileys/lib/WABinary/constants.js'

const readStdin = async () => {
	const chunks = []
	for await (const chunk of process.stdin) chunks.push(chunk)
	return Buffer.concat(chunks).toString('utf-8')
}

const fromJson = ({ tag, attrs, content }) => {
	let value
	if (content === null || content === undefined) value = undefined
	else if (Array.isArray(content)) value = content.map(fromJson)
	else if ('bytes' in content) value = Buffer.from(content.bytes, 'base64')
	else value = content.string
	return { tag, attrs: attrs || {}, content: value }
}

const toJson = ({ tag, attrs, content }) => {
	let value = null
	if (Array.isArray(content)) value = content.map(toJson)
	else if (content instanceof Uint8Array) value = { bytes: Buffer.from(content).toString('base64') }
	else if (typeof content === 'string') value = { string: content }
	return { tag, attrs, content: value }
}

const main = async () => {
	const input = JSON.parse(await readStdin())
	if (process.argv[2] === 'bench') {
		// Best of `rounds` timed loops: the machine may be shared, and the best round is the
		// one least disturbed by other processes.
		const iterations = Number(process.argv[3])
		const rounds = Number(process.argv[4] || 5)
		const node = fromJson(input)
		const encoded = encodeBinaryNode(node)
		for (let i = 0; i < Math.min(2000, iterations); i++) {
			await decodeBinaryNode(encodeBinaryNode(node)) // warm up the JIT
		}
		let marshalNs = Infinity
		let unmarshalNs = Infinity
		for (let round = 0; round < rounds; round++) {
			let start = process.hrtime.bigint()
			for (let i = 0; i < iterations; i++) encodeBinaryNode(node)
			marshalNs = Math.min(marshalNs, Number(process.hrtime.bigint() - start))
			start = process.hrtime.bigint()
			for (let i = 0; i < iterations; i++) await decodeBinaryNode(encoded)
			unmarshalNs = Math.min(unmarshalNs, Number(process.hrtime.bigint() - start))
		}
		process.stdout.write(JSON.stringify({
			marshal_per_s: iterations / (marshalNs / 1e9),
			unmarshal_per_s: iterations / (unmarshalNs / 1e9)
		}))
		return
	}
	const encoded = (input.encode || []).map(node => {
		try {
			return encodeBinaryNode(fromJson(node)).toString('hex')
		} catch (err) {
			return { error: String(err?.message ?? err) }
		}
	})
	const decoded = []
	for (const hex of input.decode || []) {
		try {
			decoded.push(toJson(await decodeBinaryNode(Buffer.from(hex, 'hex'))))
		} catch (err) {
			decoded.push({ error: String(err?.message ?? err) })
		}
	}
	process.stdout.write(JSON.stringify({
		encoded,
		decoded,
		tokens: { single: SINGLE_BYTE_TOKENS, double: DOUBLE_BYTE_TOKENS }
	}))
}

await main()
