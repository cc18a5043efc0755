// Where the build puts the kernel object and the addon, relative to the package
// root (dist/src/paths.js is two levels below it).
import { fileURLToPath } from 'node:url';
import path from 'node:path';

export const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const bpfObjectPath = path.join(packageRoot, 'build', 'tcpwhy.bpf.o');
export const addonPath = path.join(packageRoot, 'native', 'build', 'Release', 'tcpwhy_native.node');
export const cliPath = path.join(packageRoot, 'dist', 'src', 'cli', 'main.js');
