export * from './connection';
export * from './breaker';
export * from './describe';
