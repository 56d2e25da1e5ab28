import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../log.js';
import { STATE_REASONS, type SimInstance } from './ec2-instance.js';
import type { Ec2Model } from './ec2-model.js';
import { startSimVm, type SimVm, type SimVmOptions } from './vm.js';

export interface SimFleetOptions {
  model: Pick<Ec2Model, 'markRunning' | 'markTerminated' | 'readdress' | 'fateOf'>;
  /** Each VM's scratch directory is `<rootDir>/<instanceId>`. */
  rootDir: string;
  sshPort: number;
  bootDelay: number;
  bootSpread: number;
  authorizedKey: string;
  /** Tag the boot publishes the host key fingerprint under, as a real image would. */
  hostKeyTag: string;
  logger: Logger;
  random?: () => number;
  startVm?: (options: SimVmOptions) => Promise<SimVm>;
  /** Tools every VM's image comes with (the sim's `registry-pull`). */
  binDirs?: readonly string[];
}

// Another process (another test worker's sim) may hold an address; a few redraws always find a free one.
const MAX_BIND_ATTEMPTS = 10;

/**
 * The machines behind the model: boots each instance after its boot delay by
 * starting a real SSH server for it, and stops it on terminate. The model
 * holds the state; this holds the timers, the servers and the disks.
 */
export class SimFleet {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly vms = new Map<string, SimVm>();
  /** The boot or shutdown in flight per instance, so a shutdown waits for a half-done boot. */
  private readonly work = new Map<string, Promise<void>>();
  private readonly random: () => number;
  private readonly startVm: (options: SimVmOptions) => Promise<SimVm>;
  private closed = false;

  constructor(private readonly options: SimFleetOptions) {
    this.random = options.random ?? Math.random;
    this.startVm = options.startVm ?? startSimVm;
  }

  /** Schedules the boot of a just-launched instance, as its fate (drawn at launch) has it. */
  boot(instance: SimInstance): void {
    if (this.closed) return;
    const { bootDelay, bootSpread, model } = this.options;
    const fate = model.fateOf(instance);
    const delay = bootDelay + this.random() * bootSpread + fate.slowBootMs;
    const timer = setTimeout(() => {
      this.timers.delete(instance.instanceId);
      if (fate.bootFail) this.die(instance);
      else this.track(instance.instanceId, this.start(instance, fate.sshHang));
    }, delay);
    this.timers.set(instance.instanceId, timer);
  }

  /** Stops an instance that entered shutting-down: VM closed, disk removed, then terminated. */
  shutdown(instance: SimInstance): void {
    const id = instance.instanceId;
    clearTimeout(this.timers.get(id));
    this.timers.delete(id);
    const before = this.work.get(id) ?? Promise.resolve();
    this.track(id, before.then(() => this.stop(instance)));
  }

  /**
   * The host behind a running instance's address changes (reinstalled, or
   * someone in the middle): its sshd restarts on the same address and port
   * with a fresh host key. The published tag is left as it was. Returns the
   * new fingerprint.
   */
  async replaceHostKey(instanceId: string): Promise<string> {
    const vm = this.vms.get(instanceId);
    if (!vm) throw new Error(`sim instance ${instanceId} has no running VM`);
    this.vms.delete(instanceId);
    await vm.close();
    const { authorizedKey } = this.options;
    const scratchDir = join(this.options.rootDir, instanceId);
    const next = await this.startVm({ address: vm.address, port: vm.port, authorizedKey, scratchDir, logger: this.logger({ instanceId }), binDirs: this.options.binDirs ?? [] });
    this.vms.set(instanceId, next);
    return next.hostKeyFingerprint;
  }

  /** Cancels pending boots, waits for boots and shutdowns in flight, stops every VM. */
  async close(): Promise<void> {
    this.closed = true;
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    await Promise.all(this.work.values());
    const vms = [...this.vms.values()];
    this.vms.clear();
    await Promise.all(vms.map((vm) => vm.close()));
  }

  // A boot-fail fault: the host gave up before any disk or sshd existed, as EC2 reports it.
  private die(instance: SimInstance): void {
    if (instance.state !== 'pending') return;
    this.options.model.markTerminated(instance, STATE_REASONS.bootFailed);
    this.logger(instance).info({ zone: instance.zone }, 'sim instance failed to boot (boot-fail fault); terminated');
  }

  private async start(instance: SimInstance, hang: boolean): Promise<void> {
    // Made by the VM as it starts (one mkdir per VM, not two).
    const scratchDir = join(this.options.rootDir, instance.instanceId);
    let vm: SimVm;
    try {
      vm = await this.listen(instance, scratchDir, hang);
    } catch (err) {
      this.logger(instance).error({ err }, 'sim vm failed to start; instance terminated');
      if (instance.state === 'pending') this.options.model.markTerminated(instance, STATE_REASONS.bootFailed);
      await rm(scratchDir, { recursive: true, force: true });
      return;
    }
    // Terminated (or the cloud closed) while the VM was starting: the shutdown already ran.
    if (this.closed || !this.options.model.markRunning(instance, [[this.options.hostKeyTag, vm.hostKeyFingerprint]])) {
      await vm.close();
      return;
    }
    this.vms.set(instance.instanceId, vm);
    this.logger(instance).debug({ address: vm.address, port: vm.port, sshHang: hang }, 'sim instance running');
  }

  // The VM listens before the instance reports running, so a running instance's address is final.
  private async listen(instance: SimInstance, scratchDir: string, hang: boolean): Promise<SimVm> {
    const { sshPort, authorizedKey } = this.options;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.startVm({ address: instance.privateIp, port: sshPort, authorizedKey, scratchDir, logger: this.logger(instance), hang, binDirs: this.options.binDirs ?? [] });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt >= MAX_BIND_ATTEMPTS) throw err;
        const taken = instance.privateIp;
        this.logger(instance).debug({ taken, address: this.options.model.readdress(instance) }, 'address in use; moved the instance');
      }
    }
  }

  private async stop(instance: SimInstance): Promise<void> {
    const vm = this.vms.get(instance.instanceId);
    this.vms.delete(instance.instanceId);
    await vm?.close();
    await rm(join(this.options.rootDir, instance.instanceId), { recursive: true, force: true });
    this.options.model.markTerminated(instance);
  }

  private track(id: string, task: Promise<void>): void {
    const tracked = task.catch((err: unknown) => this.logger({ instanceId: id }).error({ err }, 'sim instance lifecycle failed'));
    this.work.set(id, tracked);
    void tracked.then(() => {
      if (this.work.get(id) === tracked) this.work.delete(id);
    });
  }

  private logger(instance: { instanceId: string }): Logger {
    return this.options.logger.child({ instanceId: instance.instanceId });
  }
}
