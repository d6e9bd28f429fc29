export * from './connection';
export * from './breaker';
export * from './server';
export * from './supervisor';
export * from './describe';
