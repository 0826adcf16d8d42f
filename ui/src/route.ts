//! Routing as plain React state: which screen is shown and with what. Screens receive
//! the current route and `navigate` as props (`ScreenProps`).

export type Route =
  | { screen: "welcome" }
  | { screen: "bundles" }
  | { screen: "editor"; reference?: string; draftText?: string }
  | { screen: "diff"; old?: string; new?: string }
  | { screen: "simulator"; reference?: string }
  | { screen: "approvals"; reference?: string; environment?: string }
  | { screen: "rollouts"; bundle?: string; environment?: string }
  | { screen: "scorecards" }
  | { screen: "overrides" }
  | { screen: "audit"; subject?: string }
  | { screen: "keys" }
  | { screen: "settings" };

export type ScreenName = Route["screen"];

export type Navigate = (route: Route) => void;

export interface ScreenProps {
  route: Route;
  navigate: Navigate;
}

/** The screens of the navigation rail, in order (Ctrl+1..9 for the first nine). */
export const RAIL: readonly { screen: Exclude<ScreenName, "welcome">; title: string }[] = [
  { screen: "bundles", title: "Bundles" },
  { screen: "editor", title: "Editor" },
  { screen: "diff", title: "Diff" },
  { screen: "simulator", title: "Simulator" },
  { screen: "approvals", title: "Approvals" },
  { screen: "rollouts", title: "Rollouts" },
  { screen: "scorecards", title: "Scorecards" },
  { screen: "overrides", title: "Overrides" },
  { screen: "audit", title: "Audit" },
  { screen: "keys", title: "Keys" },
  { screen: "settings", title: "Settings" },
];

/** The text a new bundle starts from. */
export const NEW_BUNDLE_TEXT = `apiVersion: gavel/v1
kind: PolicyBundle
metadata:
  name: my-bundle
  version: 0.1.0
  default_effect: deny
rules: []
`;
