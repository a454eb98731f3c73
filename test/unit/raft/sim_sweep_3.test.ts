import { it } from 'vitest';
import { sweep } from './sim_seeds.ts';

it('simulation: seeds 701..1050 hold every invariant and recover after healing', () => {
  sweep(701, 350);
});
