export * from './vocabulary.js';
export * from './event.js';
export * from './message-state.js';
export * from './ids.js';
export * from './errors.js';
