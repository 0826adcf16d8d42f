//! Pure helpers of the team's registries (DESIGN §11.16, §11.11): the three forms a
//! registry URL takes and what each means, the add form's early checks (the back end
//! checks again), and what to do about the registry error codes.

/** One muted line under the URL field. */
export const URL_FORMS_TEXT =
  "oci://HOST/NAMESPACE is a registry over HTTPS; oci+http://HOST:PORT/NAMESPACE is plain HTTP, for a registry on this machine; dir:/PATH is a folder (an OCI layout) an air-gapped team carries by hand.";

export type UrlForm = "https" | "http" | "dir";

export interface UrlCheck {
  form: UrlForm | null;
  /** What the URL means, or what is wrong with it. */
  text: string;
  ok: boolean;
}

/** An OCI repository path: components of [a-z0-9] with `.`, `_`, `__` or dashes between. */
const COMPONENT = "[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*";
const NAMESPACE = new RegExp(`^${COMPONENT}(?:/${COMPONENT})*$`);

/** Reads a registry URL as the back end will (`Location::parse`). */
export function checkRegistryUrl(raw: string): UrlCheck {
  const url = raw.trim();
  if (url === "")
    return {
      form: null,
      ok: false,
      text: "Write oci://HOST/NAMESPACE, oci+http://…, or dir:/PATH.",
    };
  const remote = (rest: string, form: UrlForm): UrlCheck => {
    const slash = rest.indexOf("/");
    const host = slash < 0 ? rest : rest.slice(0, slash);
    const namespace = (slash < 0 ? "" : rest.slice(slash + 1)).replace(/\/+$/, "");
    if (host === "" || /[@?# ]/.test(host))
      return { form, ok: false, text: "No registry host: write oci://HOST[:PORT]/NAMESPACE." };
    if (namespace !== "" && !NAMESPACE.test(namespace))
      return {
        form,
        ok: false,
        text: `“${namespace}” is not a namespace: lowercase letters and digits, with . _ - between them and / between parts.`,
      };
    const where = namespace ? `${host}, bundles under ${namespace}/` : host;
    return form === "https"
      ? { form, ok: true, text: `HTTPS registry at ${where}` }
      : {
          form,
          ok: true,
          text: `Plain HTTP registry at ${where}: use it only on this machine (loopback)`,
        };
  };
  if (url.startsWith("oci://")) return remote(url.slice("oci://".length), "https");
  if (url.startsWith("oci+http://")) return remote(url.slice("oci+http://".length), "http");
  if (url.startsWith("dir:") || url.startsWith("/")) {
    const path = url.startsWith("dir:") ? url.slice(4) : url;
    if (path === "") return { form: "dir", ok: false, text: "Name the folder: dir:/PATH." };
    return { form: "dir", ok: true, text: `A folder: ${path} (one OCI layout per bundle)` };
  }
  if (/^https?:\/\//.test(url))
    return {
      form: null,
      ok: false,
      text: "Write oci:// (HTTPS) or oci+http:// (plain HTTP) instead of http(s)://.",
    };
  return {
    form: null,
    ok: false,
    text: "Not a registry: write oci://HOST/NAMESPACE, oci+http://HOST:PORT/NAMESPACE, or dir:/PATH.",
  };
}

/** What is wrong with a registry name, as the back end checks it; undefined when fine. */
export function checkRegistryName(raw: string): string | undefined {
  const name = raw.trim();
  if (name === "") return "Name the registry (e.g. team).";
  if (name.length > 64) return "At most 64 characters.";
  if (!/^[a-z][a-z0-9_-]*$/.test(name))
    return "Lowercase letters, digits, - or _, starting with a letter.";
  return undefined;
}

export interface RegistryDraft {
  name: string;
  url: string;
  username: string;
  password: string;
}

export type RegistryProblems = Partial<Record<keyof RegistryDraft, string>>;

/** The add form's problems (empty when it can be sent). */
export function checkRegistryDraft(d: RegistryDraft): RegistryProblems {
  const problems: RegistryProblems = {};
  const name = checkRegistryName(d.name);
  if (name) problems.name = name;
  const url = checkRegistryUrl(d.url);
  if (!url.ok) problems.url = url.text;
  if (d.password !== "" && d.username.trim() === "")
    problems.username = "A password goes with a user name.";
  return problems;
}

/** What the user can do about a registry error, by code. */
export function registryHint(code: string): string | undefined {
  switch (code) {
    case "registry_unreachable":
      return "The registry cannot be reached: check it runs, then Sync again";
    case "registry_unauthorized":
      return "The registry refused the credentials: remove the registry and add it again with the right user name and password.";
    case "registry_refused":
      return "What the registry holds did not verify (untrusted or bad signature, digest mismatch): nothing was stored. Trust the author's key in Keys if you know them.";
    case "registry_error":
      return "The registry answered with an error: check its logs, then try again.";
    case "tag_moved":
      return "The registry's tag for this version names another digest, and version tags never move: save a new version and push that.";
    case "not_bound":
      return "Bind the bundle to a registry first (Bundles, the bundle's actions).";
    case "refused":
      return "A registry with bundles bound to it cannot be removed, and names are unique: see the message.";
    case "invalid":
      return "Correct the value named in the message, then try again.";
    case "not_found":
      return "It may have been removed meanwhile: refresh.";
    case "keychain":
      return "The OS keychain could not be used: unlock it and try again.";
    case "no_identity":
      return "Create an identity first: registry changes are recorded under your name.";
    default:
      return undefined;
  }
}
