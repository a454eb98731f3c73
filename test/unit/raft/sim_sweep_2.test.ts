import { it } from 'vitest';
import { sweep } from './sim_seeds.ts';

it('simulation: seeds 301..600 hold every invariant and recover after healing', () => {
  sweep(301, 300);
});
