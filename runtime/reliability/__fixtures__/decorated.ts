// Exercises the TC39 standard decorator syntax. Node's type stripping cannot run decorators, so
// decorators.test.ts compiles this file with tsc first; `tsc --noEmit -p .` also type-checks it,
// which proves the decorators' types accept ordinary async methods.
import { circuitBreaker, MessageCircuitBreaker } from '../circuit-breaker.ts';
import { NonRetryableError } from '../../core/errors.ts';
import { retryable } from '../retry.ts';

export const breaker = new MessageCircuitBreaker({ failureThreshold: 2, recoveryTimeout: 60_000, name: 'inventory' });

export class InventoryClient {
  calls = 0;
  failures = 0;

  @retryable({ maxRetries: 3, initialDelay: 0, jitter: 0 })
  async reserve(sku: string, quantity: number): Promise<string> {
    this.calls++;
    if (this.failures > 0) {
      this.failures--;
      throw new Error('inventory busy');
    }
    if (quantity <= 0) throw new NonRetryableError('quantity must be positive');
    return `${sku}x${quantity}@${this.calls}`;
  }

  @circuitBreaker(breaker)
  async check(healthy: boolean): Promise<string> {
    if (!healthy) throw new Error('inventory down');
    return 'ok';
  }
}
