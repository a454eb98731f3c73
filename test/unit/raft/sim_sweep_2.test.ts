import { it } from 'vitest';
import { sweep } from './sim_seeds.ts';

it('simulation: seeds 351..700 hold every invariant and recover after healing', () => {
  sweep(351, 350);
});
