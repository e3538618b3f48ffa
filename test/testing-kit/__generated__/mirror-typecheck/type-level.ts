// Type-level tests of the generated mirror (copied next to the generated code by mirror.test.ts):
// every @ts-expect-error line must be an error, everything else must compile.
import type { MessageBroker } from 'contractbus';
import { createMirror } from './ts-imports/shop/mirror.ts';

export async function typeLevel(broker: MessageBroker): Promise<void> {
  const mirror = await createMirror(broker);
  const orderId = '7f1c2a8e-9d4b-4c1e-8a2f-1b3c5d7e9f00';
  const captured = { kind: 'captured', paymentId: orderId, orderId, amount: { currency: 'EUR', amountMinor: 1 }, capturedAt: '2026-03-01T12:00:00Z' } as const;

  await mirror.onPayment.send(captured, { headers: { correlationId: 'c' } });
  // @ts-expect-error the contract requires the correlationId header
  await mirror.onPayment.send(captured);
  // @ts-expect-error 'refunded' is not a payment kind
  await mirror.onPayment.send({ ...captured, kind: 'refunded' }, { headers: { correlationId: 'c' } });
  // @ts-expect-error misspelt header
  await mirror.onPayment.send(captured, { headers: { correlationID: 'c' } });
  await mirror.onPayment.sendUnchecked({ anything: true });

  await mirror.onOrderStatus.send({ orderId }, { orderId, status: 'paid', changedAt: 'x' }, { headers: { correlationId: 'c' } });
  // @ts-expect-error the channel parameter is missing
  await mirror.onOrderStatus.send({ orderId, status: 'paid', changedAt: 'x' }, { headers: { correlationId: 'c' } });

  const sent = await mirror.publishOrderStatus.waitFor({ status: 'paid' });
  const status: 'created' | 'paid' | 'shipped' | 'delivered' | 'cancelled' = sent.payload.status;
  const id: string = sent.params.orderId;
  const correlation: string = sent.headers.correlationId;
  // @ts-expect-error no such status
  await mirror.publishOrderStatus.waitFor({ status: 'lost' });
  // @ts-expect-error the service does not send payments: no inbox for them
  mirror.onPayment.received;
  void [status, id, correlation];
  await mirror.$close();
}
