// The one money format: an amount and its currency, written once, in the locale's way
// ("€500.00", "500,00 €"), wherever the screens show one (titles, the facts box, history).

// `amount` as the requester wrote it ("500", "49.90") and `currency` an ISO 4217 code: the
// amount formatted by the locale, or null when the amount is not a plain number. An unknown
// currency code keeps the number formatted and the code after it.
export function money(amount, currency) {
  const text = String(amount ?? "").trim();
  if (!/^\d+(\.\d+)?$/.test(text)) return null;
  const n = Number(text);
  if (!Number.isFinite(n)) return null;
  if (currency) {
    try {
      return new Intl.NumberFormat(undefined, { style: "currency", currency }).format(n);
    } catch (_) {
      /* not a currency code the locale knows */
    }
  }
  const plain = new Intl.NumberFormat(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 }).format(n);
  return currency ? `${plain} ${currency}` : plain;
}

// Metadata (`[[key, value, …]]` or an object) as a map of key → value.
export function details(metadata) {
  if (!metadata) return {};
  if (Array.isArray(metadata)) return Object.fromEntries(metadata.map(([k, v]) => [k, v]));
  return { ...metadata };
}

// A transfer's one line for lists: "€500.00 to ACME Ltd", "€500.00 (payee not given)", or null
// when the details name no amount.
export function transferLine(metadata) {
  const m = details(metadata);
  const sum = money(m.amount, m.currency);
  if (!sum) return null;
  return m.payee ? `${sum} to ${m.payee}` : `${sum} (payee not given)`;
}
