import { it } from 'vitest';
import { sweep } from './sim_seeds.ts';

it('simulation: seeds 1..300 hold every invariant and recover after healing', () => {
  sweep(1, 300);
});
