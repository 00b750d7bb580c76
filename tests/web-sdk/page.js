// Runs the published web SDK through login, step-up to transfer:write and logout against the
// emulator this page is served from. The result goes to document.title: PASS or FAIL: why.
import { PrldSessionClient } from "@prelude.so/js-sdk/session";

const log = (m) => {
  document.getElementById("log").textContent += m + "\n";
};

async function newestCode(count) {
  for (let i = 0; i < 50; i++) {
    const all = await (await fetch("/emulator/v1/outbox")).json();
    if (all.length >= count) return all[count - 1].code;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`message #${count} never arrived`);
}

function claims(jwt) {
  const part = jwt.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
  return JSON.parse(atob(part));
}

async function run() {
  await fetch("/emulator/v1/outbox", { method: "DELETE" });
  const client = new PrldSessionClient({ domain: location.host });
  await client.startOTPLogin({ identifier: { type: "phone_number", value: "+33612345678" } });
  log("code sent");
  await client.checkOTP(await newestCode(1));
  const sid = await client.getSessionId();
  if (!sid || !sid.startsWith("ses_")) throw new Error(`no session id: ${sid}`);
  log(`signed in, session ${sid}`);

  let info = null;
  const up = await client.requestStepUp({
    scope: "transfer:write",
    metadata: { amount: "500", currency: "EUR" },
    onChallenge: (i) => {
      info = i;
    },
  });
  if (up.status !== "review" || !up.challenge_token) throw new Error(`step-up: ${JSON.stringify(up)}`);
  const challengeId = info ? info.challengeId : claims(up.challenge_token).challenge_id;
  log(`challenge ${challengeId}, step ${info ? info.currentStep : "?"}`);
  await client.otpCreate({ challengeId });
  await client.otpCheck(challengeId, await newestCode(2));
  const profile = await client.getProfile();
  const scope = String((profile && profile.scope) || "");
  if (!scope.split(" ").includes("transfer:write")) throw new Error(`scope missing: ${JSON.stringify(profile)}`);
  log("scope granted");

  await client.logout();
  const after = await client.getSessionId();
  if (after) throw new Error(`still signed in after logout: ${after}`);
  log("signed out");
  document.title = "PASS";
}

run().catch((e) => {
  log(String(e && e.stack));
  document.title = `FAIL: ${e && e.name}: ${e && e.message}`;
});
