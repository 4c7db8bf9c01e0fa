export {
  SERVICE_CREDENTIAL_HEADER,
  parseTrustedServiceKeys,
  serviceCredential,
  verifyServiceCredential,
  type ServiceCaller,
  type TrustedServiceKeys,
} from './service-identity.js';
