// A ConsumerApi with no consumers: what the engine uses when none is plugged in (tests of the
// stream side, or a build without the consumer engine). CONSUMER.* requests get nats-server's
// "consumer not found" answer; MSG.NEXT is left unanswered.

import type { ApiError, ApiRequest, ConsumerApi, StreamForConsumers } from './seams.ts';
import { JS_ERR } from './errors.ts';

export class NoConsumers implements ConsumerApi {
  handle(_stream: StreamForConsumers, req: ApiRequest): Record<string, unknown> | ApiError | undefined {
    if (req.tokens[1] === 'MSG') return undefined;
    return JS_ERR.CONSUMER_NOT_FOUND;
  }

  count(_stream: string): number {
    return 0;
  }

  async streamDeleted(_stream: string): Promise<void> {}

  async recover(_stream: StreamForConsumers): Promise<void> {}

  infos(_stream: string): Record<string, unknown>[] {
    return [];
  }

  async stop(): Promise<void> {}
}
