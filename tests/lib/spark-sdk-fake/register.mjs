// register.mjs: loaded with `node --import` (through NODE_OPTIONS, which the
// launcher passes to its stages) so that scripts/spark-bridge, started by
// scripts/dvm, gets the fake SDK of sdk.mjs instead of @buildonspark/spark-sdk.
// The bridge itself runs unchanged; nothing here touches the network.
import { register } from 'node:module';

register('./hooks.mjs', import.meta.url);
