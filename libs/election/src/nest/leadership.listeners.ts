import { Injectable } from '@nestjs/common';
import type { Leadership } from '../core/leader-elector.types';

/**
 * LeadershipListeners fans the elector's onStartedLeading out to the modules
 * that do leader work (scheduling). A listener must stop its work when the
 * leadership's signal aborts; it is not awaited.
 */
@Injectable()
export class LeadershipListeners {
  private readonly listeners: ((leadership: Leadership) => void)[] = [];

  /** onStartedLeading adds a listener for every leadership this node wins. */
  onStartedLeading(listener: (leadership: Leadership) => void): void {
    this.listeners.push(listener);
  }

  /** emit is the elector's callback. */
  emit(leadership: Leadership): void {
    for (const listener of this.listeners) listener(leadership);
  }
}
