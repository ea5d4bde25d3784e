/** The tests pick ports as the bench does (see bench/ports.ts: below the kernel's ephemeral range). */
export { freePorts } from '../../bench/ports.js';
