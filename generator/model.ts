/**
 * The contract model: a plain, JSON-serialisable, normalised view of an AsyncAPI document, and the
 * ONLY input of the templates. AsyncAPI 2.6 and 3.x become the same model for the same contract
 * (operations are read through `isSend()`/`isReceive()`, never through 2.x's inverted publish/subscribe).
 * Every identifier, type name, file name and string literal the templates print is computed here.
 */
import type { AsyncAPIDocumentInterface, ChannelInterface, MessageInterface, OperationInterface } from '@asyncapi/parser';
import { camelCase, fileSlug, jsDoc, literal, pascalCase, uniqueIdentifier, uniqueMemberName, listLiteral, valueLiteral } from './names.ts';
import { emitSchemas, describe, REF_PREFIX, SchemaEmitError } from './schema.ts';
import { clean, isObj, SchemaCollector } from './collect.ts';
import type { Obj, SchemaRole } from './collect.ts';
import type { JsonSchema, ObjectMode } from './schema.ts';

export interface ContractModel {
  /** The AsyncAPI version of the source document (the only field that differs between 2.6 and 3.0 of one contract). */
  specVersion: string;
  title: string;
  version: string;
  id: string | undefined;
  description: string | undefined;
  /** Folder name under the output directory. */
  slug: string;
  files: { schemas: string; client: string; index: string; fixtures: string | undefined; mirror: string | undefined };
  /** Relative import paths between the generated files (with the chosen extension). */
  imports: { schemas: string; client: string; fixtures: string | undefined; runtime: string };
  /** Message examples for fixtures.ts (validated at generation). */
  fixtureMessages: FixtureMessageModel[];
  clientFactory: string;
  clientType: string;
  /** `export const <name>` with title/version/id of the contract. */
  contractInfoName: string;
  headerDoc: string;
  literals: { title: string; version: string; id: string; channels: string; operations: string };
  schemas: SchemaModel[];
  channels: ChannelModel[];
  messages: MessageModel[];
  operations: OperationModel[];
  hasPublish: boolean;
  hasSubscribe: boolean;
  hasParameters: boolean;
  /** Names client.ts imports from the runtime (only those it uses: noUnusedLocals-clean). */
  runtimeTypeImports: string;
  runtimeValueImports: string;
  /** Some operation's channel has parameters: its routing depends on the broker (collapsed routing). */
  routesParameters: boolean;
  /** schemas.ts needs the runtime's `optionalOwn` helper. */
  schemasUseOptionalOwn: boolean;
}

export interface SchemaModel {
  key: string;
  /** Exported const (the zod schema) and its output type. */
  identifier: string;
  /** The input type (what a publisher passes: defaults optional). */
  inputType: string;
  role: SchemaRole;
  doc: string;
  /** Normalised JSON Schema; references to other named schemas are `$ref: '#/components/schemas/<key>'`. */
  json: JsonSchema;
  zod: string;
  recursive: boolean;
}

export interface ParameterModel {
  name: string;
  nameLiteral: string;
  description: string | undefined;
  schema: JsonSchema;
}

export interface ChannelModel {
  /** Stable name derived from the address (the same for 2.6 and 3.0). */
  name: string;
  address: string;
  addressLiteral: string;
  description: string | undefined;
  parameters: ParameterModel[];
  /** Identifier of the parameters schema in schemas.ts, when the address has parameters. */
  paramsSchema: string | undefined;
  bindings: Record<string, unknown>;
  deadLetterTopic: string | undefined;
  /**
   * The one topic of a parameterised channel on brokers without pattern subscribe (Kafka, Redis
   * Streams): the Kafka binding's `topic`, else the address without its parameters. `undefined`
   * for channels without parameters (their address is their topic everywhere) and for addresses
   * made only of parameters with no binding topic (the runtime then names the fix).
   */
  collapsedTopic: string | undefined;
}

export interface MessageExampleModel {
  name: string | undefined;
  payload: unknown;
  headers: Record<string, unknown> | undefined;
}

export interface MessageModel {
  key: string;
  name: string;
  title: string | undefined;
  summary: string | undefined;
  description: string | undefined;
  contentType: string;
  payloadSchema: string;
  headersSchema: string | undefined;
  correlationId: { location: string; header: string | undefined } | undefined;
  examples: MessageExampleModel[];
  bindings: Record<string, unknown>;
}

export interface FixtureMessageModel {
  key: string;
  keyLiteral: string;
  payloadSchema: string;
  payloadInputType: string;
  headersSchema: string | undefined;
  headersInputType: string | undefined;
  examples: Array<{ index: number; nameLiteral: string; payloadJson: string; headersJson: string | undefined; payload: unknown; headers: unknown }>;
}

export interface OperationModel {
  /** Operation id (3.x key; 2.6 operationId, else channel + action). */
  id: string;
  functionName: string;
  action: 'send' | 'receive';
  isSend: boolean;
  channel: string;
  address: string;
  addressLiteral: string;
  messages: string[];
  summary: string | undefined;
  description: string | undefined;
  doc: string;
  /** schemas.ts identifiers (prefix `schemas.` is added by the template). */
  payloadSchema: string;
  payloadType: string;
  payloadInputType: string;
  headersSchema: string | undefined;
  headersType: string | undefined;
  headersInputType: string | undefined;
  /** The headers object must be passed (the contract requires a header). */
  headersRequired: boolean;
  /** Header that carries the correlation id (from the message's correlationId location). */
  correlationHeaderLiteral: string | undefined;
  hasParams: boolean;
  /** Receive: the handler gets `ContractMessageMetadata` (parameters and/or validated contract headers). */
  wrapsMetadata: boolean;
  /** Receive: type of the handler's metadata argument. */
  metadataType: string;
  paramsSchema: string | undefined;
  paramsType: string | undefined;
  /** What a publisher passes (parameters with a default are optional). */
  paramsInputType: string | undefined;
  paramNames: string[];
  deadLetterTopicLiteral: string | undefined;
  /** Default consumer group of a receive operation (`x-contractbus-group`, or a fixed Kafka binding groupId). */
  defaultGroupLiteral: string | undefined;
  contentTypeLiteral: string;
  topicLiteral: string;
  /** `ChannelRoute` literal (address + collapsedTopic) for the runtime's routing helpers. */
  routeLiteral: string;
  bindings: Record<string, unknown>;
  /** Internal module-level names in client.ts (never derived from the spec). */
  internal: { payloadValidator: string; headersValidator: string; paramsValidator: string; route: string };
}

export interface ModelOptions {
  /** Extension of relative imports between generated files: '.js' (compiled projects, default) or '.ts' (Node type stripping). */
  importExtension?: '.js' | '.ts';
  /** Objects without additionalProperties in payloads: default 'passthrough'. Headers always strip unknown keys from the type. */
  objectMode?: ObjectMode;
  fixtures?: boolean;
  /** Also emit mirror.ts: a test double playing the other side of every operation (contractbus/testing). */
  mirror?: boolean;
  /** Module specifier of the runtime in generated imports. Default 'contractbus'. */
  runtimeImport?: string;
}

export class ContractModelError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ContractModelError';
  }
}

const DEAD_LETTER_EXTENSION = 'x-contractbus-dead-letter-topic';
const GROUP_EXTENSION = 'x-contractbus-group';

/** A consumer group the contract fixes: the extension, or a Kafka binding groupId with one allowed value. */
function defaultGroup(operationJson: unknown, bindings: Record<string, unknown>): string | undefined {
  const explicit = extension(operationJson, GROUP_EXTENSION);
  if (explicit !== undefined) return explicit;
  const kafka = bindings['kafka'];
  const groupId = isObj(kafka) ? kafka['groupId'] : undefined;
  if (!isObj(groupId)) return undefined;
  if (typeof groupId['const'] === 'string') return groupId['const'];
  const values = groupId['enum'];
  return Array.isArray(values) && values.length === 1 && typeof values[0] === 'string' ? values[0] : undefined;
}

/** `orders.{orderId}.status` → `orders.status`; `pre-{x}` keeps `pre-`; segments made only of parameters go. `undefined` when nothing fixed is left. */
export function collapseAddress(address: string): string | undefined {
  const pieces = address.split(/([./])/);
  let out = '';
  for (let i = 0; i < pieces.length; i += 2) {
    const segment = (pieces[i] as string).replace(/\{[^{}]*\}/g, '');
    if (segment === '') continue;
    out += (out === '' ? '' : (pieces[i - 1] ?? '')) + segment;
  }
  return out === '' ? undefined : out;
}

/** The Kafka channel binding's `topic` (2.6 and 3.0), checked to be one concrete topic. */
function kafkaBindingTopic(bindings: Record<string, unknown>, address: string): string | undefined {
  const kafka = bindings['kafka'];
  if (!isObj(kafka) || kafka['topic'] === undefined) return undefined;
  const topic = kafka['topic'];
  if (typeof topic !== 'string' || topic.trim() === '' || /[{}*#>+\s]/.test(topic)) {
    throw new ContractModelError(`channel ${JSON.stringify(address)}: bindings.kafka.topic ${JSON.stringify(topic)} must be one concrete topic name (no parameters, wildcards or whitespace)`);
  }
  return topic;
}

/**
 * On brokers without patterns every channel needs a topic of its own: a parameterised one its
 * collapsed topic, the others their address. Two channels sharing one would mix their messages.
 */
function assertDistinctCollapsedTopics(channels: Iterable<{ id: string; model: ChannelModel }>): void {
  const owners = new Map<string, { id: string; model: ChannelModel }>();
  for (const channel of channels) {
    const topic = channel.model.parameters.length ? channel.model.collapsedTopic : channel.model.address;
    if (topic === undefined) continue;
    const other = owners.get(topic);
    if (other) {
      const describeChannel = (c: { id: string; model: ChannelModel }): string => (c.id === c.model.address ? JSON.stringify(c.model.address) : `${JSON.stringify(c.id)} (${JSON.stringify(c.model.address)})`);
      throw new ContractModelError(
        `channels ${describeChannel(other)} and ${describeChannel(channel)} both map to the topic ${JSON.stringify(topic)} on brokers without pattern subscribe (Kafka, Redis Streams), where parameterised channels collapse onto one topic: set bindings.kafka.topic on the parameterised channel to a topic of its own`,
      );
    }
    owners.set(topic, channel);
  }
}

function sortedBindings(bindings: { all(): Array<{ protocol(): string; json(): unknown }> } | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (!bindings) return out;
  for (const b of [...bindings.all()].sort((a, c) => byCodeUnit(a.protocol(), c.protocol()))) out[b.protocol()] = clean(b.json());
  return out;
}

function messageKey(message: MessageInterface): string {
  const json = message.json() as Obj;
  const id = message.id();
  if (id && !id.startsWith('<')) return id;
  const name = message.name() ?? (typeof json['x-parser-message-name'] === 'string' ? json['x-parser-message-name'] : undefined);
  return name ?? 'Message';
}

/** Locale-independent order: generated output must not depend on the machine's locale (--check in CI). */
function byCodeUnit(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function text(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

function extension(json: unknown, name: string): string | undefined {
  if (!isObj(json)) return undefined;
  const value = json[name];
  return typeof value === 'string' ? value : undefined;
}

export function buildModel(document: AsyncAPIDocumentInterface, options: ModelOptions = {}): ContractModel {
  const ext = options.importExtension ?? '.js';
  const objectMode = options.objectMode ?? 'passthrough';
  const info = document.info();
  const title = info.title();
  const version = info.version();
  const collector = new SchemaCollector();
  const pascalTitle = pascalCase(title, 'Contract');

  // Names the client module exports; schemas must not take them.
  const taken = new Set<string>();
  const clientType = uniqueIdentifier(`${pascalTitle}Client`, taken);
  const clientFactory = uniqueIdentifier(`create${pascalTitle}Client`, taken);
  const contractInfoName = uniqueIdentifier(`${camelCase(title, 'contract')}Contract`, taken);
  // Also exported by client.ts / fixtures.ts (index.ts re-exports all three) or imported by schemas.ts.
  for (const reserved of ['schemas', 'fixtures', 'examples', 'optionalOwn', 'ContractPublishOptions', 'ContractPublishOptionsWithHeaders', 'ContractSubscribeOptions']) taken.add(reserved);

  // Messages (sorted by key: declaration order differs between 2.6 and 3.0 documents of one contract).
  const messageInputs = new Map<string, MessageInterface>();
  for (const message of document.messages().all()) {
    const key = messageKey(message);
    if (!messageInputs.has(key)) messageInputs.set(key, message);
  }
  for (const operation of document.operations().all()) {
    for (const message of operation.messages().all()) {
      const key = messageKey(message);
      if (!messageInputs.has(key)) messageInputs.set(key, message);
    }
  }
  const messageKeys = [...messageInputs.keys()].sort();

  // Component schemas first (their names win), sorted by key.
  const components = [...document.components().schemas().all()].sort((a, b) => byCodeUnit(a.id(), b.id()));
  for (const schema of components) collector.register(schema.json(), schema.id(), 'named', `components.schemas.${schema.id()}`);

  const messageSchemaKeys = new Map<string, { payload: string; headers: string | undefined }>();
  for (const key of messageKeys) {
    const message = messageInputs.get(key) as MessageInterface;
    const base = pascalCase(key, 'Message');
    const payloadJson = message.payload()?.json() ?? true;
    const payload = collector.register(payloadJson, `${base}Payload`, 'payload', `messages.${key}.payload`);
    const headersJson = message.headers()?.json();
    const headers = headersJson === undefined ? undefined : collector.register(headersJson, `${base}Headers`, 'headers', `messages.${key}.headers`);
    messageSchemaKeys.set(key, { payload, headers });
  }

  // Channels: named from their address so 2.6 (address as key) and 3.0 (any key) agree.
  const channelByAddress = new Map<string, ChannelModel>();
  const channelIds: Array<{ id: string; model: ChannelModel }> = [];
  const channelNames = new Set<string>();
  const channelsSorted = [...document.channels().all()].sort((a, b) => byCodeUnit(a.address() ?? a.id(), b.address() ?? b.id()));
  for (const channel of channelsSorted) {
    const address = channel.address() ?? channel.id();
    if (channelByAddress.has(address)) continue;
    const name = uniqueIdentifier(pascalCase(address.replace(/\{[^}]*\}/g, ' '), 'Channel'), channelNames);
    const parameters = parametersOf(channel, address);
    let paramsSchema: string | undefined;
    if (parameters.length) {
      const json: JsonSchema = {
        type: 'object',
        properties: Object.fromEntries(parameters.map((p) => [p.name, p.description === undefined ? p.schema : { ...(p.schema as Obj), description: p.description }])),
        required: parameters.map((p) => p.name),
        additionalProperties: false,
        description: `Parameters of the channel ${address}.`,
      };
      paramsSchema = collector.register(json, `${name}Params`, 'parameters', `channels[${JSON.stringify(address)}].parameters`);
    }
    const bindings = sortedBindings(channel.bindings());
    const bindingTopic = kafkaBindingTopic(bindings, address);
    const model: ChannelModel = {
      name,
      address,
      addressLiteral: literal(address),
      description: text(channel.description()),
      parameters,
      paramsSchema,
      bindings,
      deadLetterTopic: extension(channel.json(), DEAD_LETTER_EXTENSION),
      collapsedTopic: parameters.length ? (bindingTopic ?? collapseAddress(address)) : undefined,
    };
    channelByAddress.set(address, model);
    channelIds.push({ id: channel.id(), model });
  }
  assertDistinctCollapsedTopics(channelIds);

  // Operations.
  interface OperationInput {
    id: string;
    operation: OperationInterface;
    channel: ChannelInterface;
    isSend: boolean;
    /** Message keys, sorted (the operation's own, else every message of its channel). */
    messageKeys: string[];
    schemaKeys?: { payload: string; headers: string | undefined };
  }
  const opInputs: OperationInput[] = [];
  for (const operation of document.operations().all()) {
    const channel = operation.channels().all()[0];
    if (!channel || (channel.address() ?? channel.id()) === undefined) {
      throw new ContractModelError(
        `operation ${JSON.stringify(operation.id())}: its channel could not be resolved (the AsyncAPI parser mishandles some names, e.g. "constructor", as operation or channel keys); rename it`,
      );
    }
    const isSend = operation.isSend();
    const address = channel.address() ?? channel.id();
    const explicit = operation.operationId?.() ?? (document.version().startsWith('2.') ? undefined : operation.id());
    const id = explicit && !explicit.startsWith('<') ? explicit : `${isSend ? 'publish' : 'on'} ${address.replace(/\{[^}]*\}/g, ' ')}`;
    if (isSend && address.replace(/\{[^}]*\}/g, 'p').split('.').some((segment) => segment === '*' || segment === '#')) {
      throw new ContractModelError(`operation ${JSON.stringify(id)} sends to ${JSON.stringify(address)}, a wildcard address: a message needs one concrete topic (use a {parameter} instead)`);
    }
    const declared = operation.messages().all().length ? operation.messages().all() : channel.messages().all();
    const messageKeys = [...new Set(declared.map(messageKey))].sort();
    if (messageKeys.length === 0) throw new ContractModelError(`operation ${JSON.stringify(id)} has no message`);
    opInputs.push({ id, operation, channel, isSend, messageKeys });
  }
  opInputs.sort((a, b) => byCodeUnit(a.id, b.id) || Number(b.isSend) - Number(a.isSend));

  // Union schemas for operations with several messages.
  for (const input of opInputs) {
    const own = input.messageKeys;
    if (own.length === 1) {
      input.schemaKeys = messageSchemaKeys.get(own[0] as string) as { payload: string; headers: string | undefined };
      continue;
    }
    const base = channelByAddress.get(input.channel.address() ?? input.channel.id())?.name ?? pascalCase(input.id, 'Operation');
    const payloadRefs = own.map((k) => ({ $ref: `${REF_PREFIX}${messageSchemaKeys.get(k)?.payload}` }));
    const payload = collector.register({ oneOf: payloadRefs, description: `One of the messages: ${own.join(', ')}.` }, `${base}Message`, 'union');
    const headerKeys = [...new Set(own.map((k) => messageSchemaKeys.get(k)?.headers))];
    let headers: string | undefined;
    if (headerKeys.length === 1) headers = headerKeys[0];
    else if (headerKeys.every((h) => h !== undefined)) {
      headers = collector.register({ anyOf: headerKeys.map((h) => ({ $ref: `${REF_PREFIX}${h}` })) }, `${base}Headers`, 'union');
    }
    input.schemaKeys = { payload, headers };
  }

  // Named schemas → identifiers and zod source.
  const schemaEntries = [...collector.named.entries()].sort((a, b) => byCodeUnit(a[0], b[0]));
  const identifiers = new Map<string, { identifier: string; inputType: string }>();
  for (const [key] of schemaEntries) {
    const identifier = uniqueIdentifier(pascalCase(key, 'Schema'), taken);
    const inputType = uniqueIdentifier(`${identifier}Input`, taken);
    identifiers.set(key, { identifier, inputType });
  }
  const headerKeys = new Set([...messageSchemaKeys.values()].map((m) => m.headers).filter((h): h is string => h !== undefined));
  const emitted = emitWithOrigins(collector, () => emitSchemas(
    schemaEntries.map(([key, entry]) => ({
      key,
      identifier: (identifiers.get(key) as { identifier: string }).identifier,
      schema: entry.json,
      // A header set's type has no index signature, so a misspelt header does not compile.
      objectMode: headerKeys.has(key) ? 'strip' : objectMode,
    })),
  ));
  const schemas: SchemaModel[] = emitted.map((e) => {
    const entry = collector.named.get(e.key) as { json: JsonSchema; role: SchemaModel['role'] };
    const ids = identifiers.get(e.key) as { identifier: string; inputType: string };
    return {
      key: e.key,
      identifier: ids.identifier,
      inputType: ids.inputType,
      role: entry.role,
      doc: jsDoc(isObj(entry.json) ? describe(entry.json) : undefined),
      json: entry.json,
      zod: e.zod,
      recursive: e.recursive,
    };
  });
  const idOf = (key: string): string => (identifiers.get(key) as { identifier: string }).identifier;
  const inputOf = (key: string): string => (identifiers.get(key) as { inputType: string }).inputType;

  const messages: MessageModel[] = messageKeys.map((key) => {
    const message = messageInputs.get(key) as MessageInterface;
    const schemaKeys = messageSchemaKeys.get(key) as { payload: string; headers: string | undefined };
    const correlation = message.correlationId();
    const location = correlation?.location();
    const headerMatch = location ? /^\$message\.header#\/(.+)$/.exec(location) : null;
    return {
      key,
      name: message.name() ?? key,
      title: text(message.title()),
      summary: text(message.summary()),
      description: text(message.description()),
      contentType: message.contentType() ?? document.defaultContentType() ?? 'application/json',
      payloadSchema: idOf(schemaKeys.payload),
      headersSchema: schemaKeys.headers === undefined ? undefined : idOf(schemaKeys.headers),
      correlationId: location ? { location, header: headerMatch?.[1]?.replace(/~1/g, '/').replace(/~0/g, '~') } : undefined,
      examples: message.examples().all().map((example) => ({
        name: text(example.name()),
        payload: clean(example.payload()),
        headers: example.headers() === undefined ? undefined : (clean(example.headers()) as Record<string, unknown>),
      })),
      bindings: sortedBindings(message.bindings()),
    };
  });
  const messageByKey = new Map(messages.map((m) => [m.key, m]));

  const functionNames = new Set<string>();
  const operations: OperationModel[] = opInputs.map((input, index) => {
    const address = input.channel.address() ?? input.channel.id();
    const channel = channelByAddress.get(address);
    if (!channel) throw new ContractModelError(`operation ${JSON.stringify(input.id)}: channel ${JSON.stringify(address)} is not declared under channels`);
    const keys = input.messageKeys;
    const schemaKeys = input.schemaKeys as { payload: string; headers: string | undefined };
    const firstMessage = messageByKey.get(keys[0] as string) as MessageModel;
    const headersJson = schemaKeys.headers === undefined ? undefined : collector.named.get(schemaKeys.headers)?.json;
    const headersRequired = isObj(headersJson) && Array.isArray(headersJson['required']) && headersJson['required'].length > 0;
    const correlationHeaders = [...new Set(keys.map((k) => messageByKey.get(k)?.correlationId?.header))];
    const correlationHeader = correlationHeaders.length === 1 ? correlationHeaders[0] : undefined;
    const summary = text(input.operation.summary());
    const description = text(input.operation.description());
    const deadLetterTopic = extension(input.operation.json(), DEAD_LETTER_EXTENSION) ?? channel.deadLetterTopic;
    if (deadLetterTopic !== undefined && (deadLetterTopic === address || deadLetterTopic.trim() === '')) {
      throw new ContractModelError(`operation ${JSON.stringify(input.id)}: ${DEAD_LETTER_EXTENSION} ${JSON.stringify(deadLetterTopic)} must be a different, non-empty topic (dead-lettering into the source topic would redeliver forever)`);
    }
    const bindings = sortedBindings(input.operation.bindings());
    const group = input.isSend ? undefined : defaultGroup(input.operation.json(), bindings);
    const docParts = [summary, description, `Channel: ${address}`, `Messages: ${keys.join(', ')}`].filter((p): p is string => p !== undefined);
    return {
      id: input.id,
      functionName: uniqueMemberName(camelCase(input.id, input.isSend ? 'publish' : 'on'), functionNames),
      action: input.isSend ? 'send' : 'receive',
      isSend: input.isSend,
      channel: channel.name,
      address,
      addressLiteral: literal(address),
      messages: keys,
      summary,
      description,
      doc: jsDoc(docParts.join('\n'), '  '),
      payloadSchema: idOf(schemaKeys.payload),
      payloadType: idOf(schemaKeys.payload),
      payloadInputType: inputOf(schemaKeys.payload),
      headersSchema: schemaKeys.headers === undefined ? undefined : idOf(schemaKeys.headers),
      headersType: schemaKeys.headers === undefined ? undefined : idOf(schemaKeys.headers),
      headersInputType: schemaKeys.headers === undefined ? undefined : inputOf(schemaKeys.headers),
      headersRequired,
      correlationHeaderLiteral: correlationHeader === undefined ? undefined : literal(correlationHeader),
      hasParams: channel.paramsSchema !== undefined,
      wrapsMetadata: !input.isSend && (channel.paramsSchema !== undefined || schemaKeys.headers !== undefined),
      metadataType:
        !input.isSend && (channel.paramsSchema !== undefined || schemaKeys.headers !== undefined)
          ? `ContractMessageMetadata<${channel.paramsSchema === undefined ? 'Record<string, never>' : `schemas.${idOf(channel.paramsSchema)}`}, ${schemaKeys.headers === undefined ? 'Readonly<Headers>' : `schemas.${idOf(schemaKeys.headers)}`}>`
          : 'MessageMetadata',
      paramsSchema: channel.paramsSchema === undefined ? undefined : idOf(channel.paramsSchema),
      paramsType: channel.paramsSchema === undefined ? undefined : idOf(channel.paramsSchema),
      paramsInputType: channel.paramsSchema === undefined ? undefined : inputOf(channel.paramsSchema),
      paramNames: channel.parameters.map((p) => p.name),
      deadLetterTopicLiteral: deadLetterTopic === undefined ? undefined : literal(deadLetterTopic),
      defaultGroupLiteral: group === undefined ? undefined : literal(group),
      contentTypeLiteral: literal(firstMessage.contentType),
      topicLiteral: literal(address),
      routeLiteral: `{ address: ${literal(address)}, collapsedTopic: ${channel.collapsedTopic === undefined ? 'undefined' : literal(channel.collapsedTopic)} }`,
      bindings,
      internal: { payloadValidator: `op${index}Payload`, headersValidator: `op${index}Headers`, paramsValidator: `op${index}Params`, route: `op${index}Route` },
    };
  });

  const typeImports = new Set(['Headers', 'MessageBroker', 'PublishOptions', 'SubscribeOptions']);
  const valueImports = new Set<string>();
  for (const op of operations) {
    valueImports.add('zodValidator');
    if (op.hasParams) typeImports.add('ChannelRoute');
    if (op.isSend) {
      typeImports.add('PublishReceipt');
      if (op.hasParams) valueImports.add('routeForPublish');
      if (op.headersSchema !== undefined) valueImports.add('toWireHeaders');
    } else {
      typeImports.add('Subscription');
      if (op.hasParams) for (const name of ['routeForSubscribe', 'deliveryParams', 'matchesParams']) valueImports.add(name);
      if (op.headersSchema !== undefined) valueImports.add('wireHeadersValidator');
      if (op.wrapsMetadata) {
        typeImports.add('ContractMessageMetadata');
        valueImports.add('contractMetadata');
      } else typeImports.add('MessageMetadata');
    }
  }
  const slug = fileSlug(title);
  const withFixtures = options.fixtures !== false && messages.some((m) => m.examples.length > 0);
  const id = document.info().id();
  return {
    specVersion: document.version(),
    title,
    version,
    id,
    description: text(info.description()),
    slug,
    files: { schemas: 'schemas.ts', client: 'client.ts', index: 'index.ts', fixtures: withFixtures ? 'fixtures.ts' : undefined, mirror: options.mirror === true ? 'mirror.ts' : undefined },
    imports: { schemas: `./schemas${ext}`, client: `./client${ext}`, fixtures: withFixtures ? `./fixtures${ext}` : undefined, runtime: literal(options.runtimeImport ?? 'contractbus') },
    fixtureMessages: withFixtures
      ? messages
          // A fixture is a message to send: examples with headers but no payload are left out.
          .filter((m) => m.examples.some((e) => e.payload !== undefined))
          .map((m) => {
            const schemaKeys = messageSchemaKeys.get(m.key) as { payload: string; headers: string | undefined };
            return {
              key: m.key,
              keyLiteral: literal(m.key),
              payloadSchema: m.payloadSchema,
              payloadInputType: inputOf(schemaKeys.payload),
              headersSchema: m.headersSchema,
              headersInputType: schemaKeys.headers === undefined ? undefined : inputOf(schemaKeys.headers),
              examples: m.examples.map((e, index) => ({
                index,
                nameLiteral: e.name === undefined ? 'undefined' : literal(e.name),
                payloadJson: valueLiteral(e.payload),
                headersJson: e.headers === undefined ? undefined : valueLiteral(e.headers),
                payload: e.payload,
                headers: e.headers,
              })).filter((e) => e.payload !== undefined),
            };
          })
      : [],
    clientFactory,
    clientType,
    contractInfoName,
    headerDoc: jsDoc(`Generated by contractbus from the AsyncAPI contract ${JSON.stringify(title)} ${version}. Do not edit: regenerate with \`contractbus generate\`.`),
    literals: {
      title: literal(title),
      version: literal(version),
      id: literal(id ?? ''),
      // For tooling (topology declaration, docs, health): plain data, no schemas.
      channels: listLiteral(
        [...channelByAddress.values()].map((c) => ({
          address: c.address,
          parameters: c.parameters.map((p) => p.name),
          ...(c.collapsedTopic === undefined ? {} : { collapsedTopic: c.collapsedTopic }),
          ...(c.deadLetterTopic === undefined ? {} : { deadLetterTopic: c.deadLetterTopic }),
        })),
        '  ',
      ),
      operations: listLiteral(
        operations.map((o) => ({ id: o.id, function: o.functionName, action: o.action, address: o.address, messages: o.messages })),
        '  ',
      ),
    },
    schemas,
    channels: [...channelByAddress.values()],
    messages,
    operations,
    hasPublish: operations.some((o) => o.isSend),
    hasSubscribe: operations.some((o) => !o.isSend),
    hasParameters: operations.some((o) => o.hasParams),
    runtimeTypeImports: [...typeImports].sort().join(', '),
    runtimeValueImports: [...valueImports].sort().join(', '),
    routesParameters: operations.some((o) => o.hasParams),
    schemasUseOptionalOwn: emitted.some((e) => e.usesOptionalOwn),
  };
}

/** Schema errors point into our synthetic `#/components/schemas/<key>`; say where that is in the document. */
function emitWithOrigins<T>(collector: SchemaCollector, emit: () => T): T {
  try {
    return emit();
  } catch (error) {
    if (error instanceof SchemaEmitError) {
      const match = /^#\/components\/schemas\/([^/]+)(.*)$/.exec(error.pointer);
      const origin = match ? collector.origins.get(decodeURIComponent(match[1] as string)) : undefined;
      if (match && origin) {
        const rest = (match[2] ?? '').split('/').filter(Boolean).join('.');
        throw new SchemaEmitError(error.message.replace(/ \(at [^)]*\)$/, ''), `${origin}${rest ? `.${rest}` : ''}`);
      }
    }
    throw error;
  }
}

function parametersOf(channel: ChannelInterface, address: string): ParameterModel[] {
  const declared = new Map<string, ParameterModel>();
  for (const parameter of channel.parameters().all()) {
    const raw = clean(parameter.schema()?.json() ?? { type: 'string' }) as Obj;
    const schema: Obj = {};
    for (const [k, v] of Object.entries(raw)) if (k !== 'description' && k !== 'examples' && k !== 'title') schema[k] = v;
    if (schema['type'] === undefined && schema['enum'] === undefined && schema['const'] === undefined) schema['type'] = 'string';
    const description = text(parameter.description()) ?? (typeof raw['description'] === 'string' ? raw['description'] : undefined);
    declared.set(parameter.id(), { name: parameter.id(), nameLiteral: literal(parameter.id()), description, schema });
  }
  // The address decides which parameters exist and their order.
  const names = [...address.matchAll(/\{([^{}]+)\}/g)].map((m) => m[1] as string);
  return [...new Set(names)].map((name) => declared.get(name) ?? { name, nameLiteral: literal(name), description: undefined, schema: { type: 'string' } });
}
