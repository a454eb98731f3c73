import { it } from 'vitest';
import { sweep } from './sim_seeds.ts';

it('simulation: seeds 601..900 hold every invariant and recover after healing', () => {
  sweep(601, 300);
});
