// `contractbus/testing`: a memory broker that records what was published (createTestBroker), and the
// runtime half of generated mirror clients. Runner-agnostic: assertions throw node's AssertionError,
// which vitest and jest both render with a diff, without setup.
export { createTestBroker, TestBroker } from './test-broker.ts';
export type { DeadLetteredMessage, DeepPartialMatcher, ExpectPublishedOptions, MessageMatcher, PublishedMessage, TestBrokerOptions, WaitForOptions } from './test-broker.ts';
export { MirrorRuntime } from './mirror.ts';
export type { InboxSpec, MirrorInbox, MirrorOptions, MirrorPublishOptions, MirrorReceived, MirrorSendArgs, MirrorSender, MirrorViolation, SenderSpec } from './mirror.ts';
export { matchesPartially } from './match.ts';
