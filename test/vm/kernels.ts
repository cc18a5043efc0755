// The kernel matrix: which kernels tcpwhy is tested on, and where each comes
// from. Every kernel is a Debian package, downloaded with apt from Debian's
// archive (never a kernel built here), so a row of docs/kernel-support.md says
// exactly what a user of that distribution runs.
//
// The newest package whose name matches is taken: Debian drops old ABI
// versions from the archive, so pinning one would break the harness within
// months. The result files record the exact package and release tested.

/** An apt source line's parts: `deb URI SUITE main`. */
export interface AptSuite {
  uri: string;
  suite: string;
}

// Debian's own archive; a machine that must use a mirror sets these
const DEBIAN = process.env['TCPWHY_DEBIAN_MIRROR'] || 'http://deb.debian.org/debian';
const SECURITY = process.env['TCPWHY_DEBIAN_SECURITY_MIRROR'] || 'http://deb.debian.org/debian-security';

export const BOOKWORM: AptSuite[] = [
  { uri: DEBIAN, suite: 'bookworm' },
  { uri: DEBIAN, suite: 'bookworm-updates' },
  { uri: SECURITY, suite: 'bookworm-security' },
];
export const BULLSEYE: AptSuite[] = [
  { uri: DEBIAN, suite: 'bullseye' },
  { uri: SECURITY, suite: 'bullseye-security' },
];

export interface KernelSpec {
  /** short name used on the command line and in result files */
  id: string;
  /** who runs this kernel */
  title: string;
  suites: AptSuite[];
  /** package names to choose from (the newest version wins); the generic
   * flavour: Debian's `cloud` kernels have no 9p, which the VM's root needs */
  package: RegExp;
  /** part of the `make test` leg (the rest run with `make test-kernels`) */
  ci: boolean;
  /**
   * Run tcpwhy as on a kernel without /sys/kernel/btf/vmlinux: the guest
   * hides the kernel's BTF from tcpwhy (TCPWHY_KERNEL_BTF points nowhere) and
   * tcpwhy gets a copy of it through --btf, as a user of a BTF-less kernel
   * would pass one from BTFHub.
   */
  btfFile?: boolean;
}

export const KERNELS: KernelSpec[] = [
  {
    id: 'debian12-6.1',
    title: 'Debian 12 (bookworm) stock kernel; Amazon Linux 2023 runs 6.1 too',
    suites: BOOKWORM,
    package: /^linux-image-6\.1\.0-\d+-amd64-unsigned$/,
    ci: true,
  },
  {
    id: 'debian12-6.12',
    title: 'Debian 12 security updates (linux-6.12), the LTS after 6.1',
    suites: BOOKWORM,
    package: /^linux-image-6\.12\.\d+\+deb12-amd64-unsigned$/,
    ci: false,
  },
  {
    id: 'debian11-5.10',
    title: 'Debian 11 (bullseye) stock kernel, older than the 5.14 floor users run',
    suites: BULLSEYE,
    package: /^linux-image-5\.10\.0-\d+-amd64-unsigned$/,
    ci: false,
  },
  {
    id: 'debian12-6.1-btf-file',
    title: 'Debian 12 6.1 as a kernel without BTF: tcpwhy gets the BTF with --btf',
    suites: BOOKWORM,
    package: /^linux-image-6\.1\.0-\d+-amd64-unsigned$/,
    ci: false,
    btfFile: true,
  },
];

export function kernelById(id: string): KernelSpec | undefined {
  return KERNELS.find((k) => k.id === id);
}
