/** The key the hop scenarios' caller identifies itself with; the sy-* servers of servers.ts trust it. */
export const HOP_KEY = 'hop-bench-key-0123456789abcdef';
