/**
 * Payload encoding, pluggable. The default is the contract's JSON as UTF-8 bytes, with a size bound
 * on both sides so one huge message cannot exhaust a consumer's memory or a broker's frame limit.
 */
import { Buffer } from 'node:buffer';
import { MalformedMessageError, MessageTooLargeError } from './errors.ts';

export interface CodecContext {
  /** Named in errors. */
  readonly topic: string;
  readonly broker?: string | undefined;
}

export interface Codec {
  /** Default content type of what `encode` produces, e.g. `application/json`. */
  readonly contentType: string;
  /** Throws `MessageTooLargeError` past the bound, `MalformedMessageError` when it cannot encode. */
  encode(payload: unknown, context: CodecContext): Uint8Array;
  /** Throws `MalformedMessageError` (non-retryable: the message goes to the dead-letter topic). */
  decode(body: Uint8Array, context: CodecContext): unknown;
}

export const DEFAULT_MAX_MESSAGE_BYTES = 1024 * 1024;

export interface JsonCodecOptions {
  /** Upper bound of an encoded payload, in bytes, checked on publish and on consume. Default 1 MiB. */
  maxMessageBytes?: number;
}

// fatal: invalid UTF-8 is a malformed message, not silently replaced characters.
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

export class JsonCodec implements Codec {
  readonly contentType = 'application/json';
  readonly maxMessageBytes: number;

  constructor(options: JsonCodecOptions = {}) {
    const max = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`maxMessageBytes must be an integer >= 1, got ${String(max)}`);
    this.maxMessageBytes = max;
  }

  encode(payload: unknown, context: CodecContext): Uint8Array {
    let text: string | undefined;
    try {
      text = JSON.stringify(payload);
    } catch (error) {
      throw new MalformedMessageError(`Cannot encode the message for topic "${context.topic}" as JSON`, {
        broker: context.broker,
        topic: context.topic,
        cause: error,
        hint: 'Remove cycles and BigInt values from the payload, or pass a custom codec',
      });
    }
    if (text === undefined) {
      throw new MalformedMessageError(`Cannot encode ${typeof payload} as JSON for topic "${context.topic}"`, {
        broker: context.broker,
        topic: context.topic,
        hint: 'Publish a JSON value (object, array, string, number, boolean or null)',
      });
    }
    // Cheap pre-check: UTF-8 needs at least one byte per UTF-16 unit, at most three.
    if (text.length > this.maxMessageBytes) throw this.#tooLarge(text.length, context, 'publish', true);
    // A Buffer (a Uint8Array) carved from Node's shared pool: several times cheaper than
    // TextEncoder, which allocates an ArrayBuffer per message. Readers honour byteOffset.
    const bytes = Buffer.from(text, 'utf8');
    if (bytes.byteLength > this.maxMessageBytes) throw this.#tooLarge(bytes.byteLength, context, 'publish');
    return bytes;
  }

  decode(body: Uint8Array, context: CodecContext): unknown {
    if (body.byteLength > this.maxMessageBytes) throw this.#tooLarge(body.byteLength, context, 'consume');
    if (body.byteLength === 0) {
      throw new MalformedMessageError(`Empty message body on topic "${context.topic}" is not JSON`, { broker: context.broker, topic: context.topic });
    }
    let text: string;
    try {
      text = decoder.decode(body);
    } catch (error) {
      throw new MalformedMessageError(`Message body on topic "${context.topic}" is not valid UTF-8`, { broker: context.broker, topic: context.topic, cause: error });
    }
    try {
      return JSON.parse(text);
    } catch (error) {
      throw new MalformedMessageError(`Message body on topic "${context.topic}" is not JSON (${(error as Error).message}); starts with ${JSON.stringify(text.slice(0, 40))}`, {
        broker: context.broker,
        topic: context.topic,
        cause: error,
      });
    }
  }

  #tooLarge(bytes: number, context: CodecContext, side: 'publish' | 'consume', atLeast = false): MessageTooLargeError {
    return new MessageTooLargeError(
      `Message on topic "${context.topic}" is ${atLeast ? 'at least ' : ''}${bytes} bytes, above maxMessageBytes ${this.maxMessageBytes}`,
      {
        broker: context.broker,
        topic: context.topic,
        hint: side === 'publish' ? 'Send a reference (e.g. an object-store key) instead of the data, or raise maxMessageBytes on both publisher and consumer' : 'Raise maxMessageBytes on the consumer if such messages are expected',
      },
    );
  }
}
