//! Pure helpers of a bundle's registry actions (DESIGN §11.16): which registry a bundle
//! is bound to, which versions can be pushed, and how a push's artifacts read.

import type { PushedArtifact } from "../../bindings/PushedArtifact";
import type { RegistryRow } from "../../bindings/RegistryRow";
import type { VersionStatus } from "../../bindings/VersionStatus";

/** The registry the bundle is bound to, if any. */
export function bindingOf(
  registries: readonly RegistryRow[],
  bundle: string,
): RegistryRow | undefined {
  return registries.find((r) => r.bundles.includes(bundle));
}

/** Only frozen versions travel: a draft can still change. */
export function canPush(status: VersionStatus): boolean {
  return status !== "draft";
}

/** "bundle", "signatures", "approval", "rollout", or the media type itself. */
export function artifactKind(a: PushedArtifact): string {
  const t = a.artifact_type;
  if (t === "application/vnd.gavel.bundle.v1") return "bundle";
  if (t === "application/vnd.gavel.signatures.v1")
    return a.tag.includes(".approval-") ? "approval" : "signatures";
  if (t === "application/vnd.gavel.rollout.v1") return "rollout";
  return t;
}

/** "1.2 KiB" etc. for the layers' total size. */
export function bytesText(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ["KiB", "MiB", "GiB"];
  let v = bytes / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

/** "2 layers, 3.4 KiB". */
export function layersText(layers: readonly number[]): string {
  const total = layers.reduce((a, b) => a + b, 0);
  return `${layers.length} ${layers.length === 1 ? "layer" : "layers"}, ${bytesText(total)}`;
}
